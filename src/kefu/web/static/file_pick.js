// File inputs in the page's language (templates/partials/file_pick.html): the browser's own "No file chosen" is
// hidden with the native button, so this line says what was chosen, in the page's language, after every change,
// reset or htmx request (a sent reply clears its files).
(function () {
  "use strict";
  var SEL = ".file-pick input[type=file]";
  function show(input) {
    var status = document.getElementById(input.id + "-chosen");
    if (!status) return;
    var files = input.files || [];
    var text = files.length === 1 ? files[0].name : files.length ? status.getAttribute("data-many").replace("{n}", files.length) : status.getAttribute("data-none");
    if (status.textContent !== text) status.textContent = text;
  }
  function all() { Array.prototype.forEach.call(document.querySelectorAll(SEL), show); }
  document.addEventListener("change", function (e) { if (e.target && e.target.matches && e.target.matches(SEL)) show(e.target); });
  document.addEventListener("reset", function () { setTimeout(all, 0); }, true);
  document.addEventListener("htmx:afterSettle", all);
  document.addEventListener("htmx:afterRequest", function () { setTimeout(all, 0); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all); else all();
})();
