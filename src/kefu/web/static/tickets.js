// Ticket list: select-all checkbox and the bulk form's value control following the chosen action.
(function () {
  "use strict";
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.classList && el.classList.contains("select-all")) {
      document.querySelectorAll('input[name="ticket_ids"]').forEach(function (b) { b.checked = el.checked; });
    }
    if (el.id === "bulk-action") {
      document.querySelectorAll(".bulk-value").forEach(function (v) {
        var on = v.getAttribute("data-for") === el.value;
        v.disabled = !on;
        v.hidden = !on;
      });
    }
  });
  // Applying a bulk action with no ticket ticked used to answer with a bare validation error: say what to do.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail && e.detail.elt;
    if (!form || form.id !== "bulk") return;
    var out = document.getElementById("bulk-result");
    if (out) out.classList.remove("error");
    if (document.querySelector('input[name="ticket_ids"]:checked')) return;
    e.preventDefault();
    if (out) { out.textContent = form.getAttribute("data-none") || ""; out.classList.add("error"); }
  });
})();
