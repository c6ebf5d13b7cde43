// Shift and notice forms answer a refused edit with 422 and the section carrying the message: htmx drops 4xx bodies
// by default, so swap these in and move focus to the message.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr && e.detail.xhr.status === 422) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var alert = e.target && e.target.querySelector ? e.target.querySelector("[role='alert']") : null;
    if (!alert) return;
    alert.setAttribute("tabindex", "-1");
    alert.focus();
  });
})();
