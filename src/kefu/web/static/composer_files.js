// Composer attachments: list the chosen files, check the channel's limits before upload (the server checks again),
// and let a file go without text; a file the server refuses is explained by static/forms.js like any form error.
(function () {
  "use strict";
  var form = document.getElementById("composer");
  var input = document.getElementById("files");
  if (!form || !input) return;
  var list = document.getElementById("attach-list");
  var error = document.getElementById("attach-error");
  var text = document.getElementById("body");
  function size(n) { return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB"; }
  function fill(tpl, values) { return tpl.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; }); }
  function note() { var m = form.querySelector("input[name=mode]:checked"); return m && m.value === "note"; }
  function check() {
    var files = Array.prototype.slice.call(input.files || []);
    var d = input.dataset;
    var max = Number(note() ? d.noteMax : d.replyMax), count = Number(note() ? d.noteFiles : d.replyFiles);
    list.textContent = "";
    error.textContent = "";
    files.forEach(function (f) {
      var li = document.createElement("li");
      li.textContent = f.name + " · " + size(f.size);
      list.appendChild(li);
    });
    if (text) text.required = files.length === 0;
    if (!files.length) return true;
    if (!max) { error.textContent = fill(d.errNone, { channel: d.channel }); return false; }
    if (files.length > count) { error.textContent = fill(d.errMany, { channel: d.channel, n: count }); return false; }
    for (var i = 0; i < files.length; i++) {
      if (files[i].size > max) {
        error.textContent = fill(d.errSize, { channel: d.channel, file: files[i].name, mb: Math.floor(max / 1048576) });
        return false;
      }
    }
    return true;
  }
  input.addEventListener("change", check);
  form.addEventListener("change", function (e) { if (e.target.name === "mode") check(); });
  form.addEventListener("htmx:confirm", function (e) { if (!check()) e.preventDefault(); });
  // A file the server refuses (413/415/422) comes back as the shared inline error (static/forms.js) under the
  // file input; htmx does not reset the composer on an error, so the typed reply stays.
  form.addEventListener("htmx:afterRequest", function (e) {
    if (e.target === form && e.detail.successful) { list.textContent = ""; error.textContent = ""; if (text) text.required = true; }
  });
})();
