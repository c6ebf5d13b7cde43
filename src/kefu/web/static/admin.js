// Admin forms: a 422 page carries the same form with the admin's input and the field errors, so htmx must swap it
// in (by default it drops 4xx bodies, which left admins with "nothing shown"); then focus the first bad field.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (e) {
    // A 422 from a handler that raised (not a redisplayed form) is an inline-error fragment: forms.js places it.
    if (e.detail.xhr && e.detail.xhr.status === 422 && !e.detail.xhr.getResponseHeader("X-Kefu-Form-Error")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  function focusFirstError() {
    var bad = document.querySelector(".admin [aria-invalid='true']") || document.querySelector(".admin .form-error");
    if (!bad) return;
    if (!bad.hasAttribute("tabindex") && !/^(INPUT|SELECT|TEXTAREA)$/.test(bad.tagName)) bad.setAttribute("tabindex", "-1");
    bad.scrollIntoView({ block: "center" });
    bad.focus({ preventScroll: true });
  }
  // After htmx has applied a boosted swap's scroll-to-top, so the field stays in view.
  document.addEventListener("htmx:afterSettle", function () { setTimeout(focusFirstError, 30); });
  document.addEventListener("DOMContentLoaded", focusFirstError);
})();
