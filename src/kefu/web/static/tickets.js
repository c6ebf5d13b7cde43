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
})();
