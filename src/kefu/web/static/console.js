// Agent console: realtime refresh over the kefu WebSocket and keyboard shortcuts. No inline handlers anywhere:
// the pages' Content-Security-Policy only runs scripts carrying the response's nonce, so behaviour lives here.
(function () {
  "use strict";
  var body = document.body;
  // <select data-autosubmit> submits its form on change (admin brand picker).
  document.addEventListener("change", function (e) {
    if (e.target.hasAttribute && e.target.hasAttribute("data-autosubmit") && e.target.form) e.target.form.requestSubmit();
  });
  // <form data-reset-on-success> clears itself after a successful htmx request (the composer).
  body.addEventListener("htmx:afterRequest", function (e) {
    var form = e.target.closest ? e.target.closest("form[data-reset-on-success]") : null;
    if (form && e.target === form && e.detail.successful) form.reset();
  });
  if (!body.dataset.agentId) return;
  var live = document.getElementById("live");
  var conv = document.querySelector(".conversation");
  var inbox = document.querySelector(".inbox");
  var topics = [];
  if (conv) topics.push("conversation:" + conv.dataset.convId, "customer:" + conv.dataset.customerId);
  if (inbox && inbox.dataset.brands) inbox.dataset.brands.split(",").forEach(function (b) { if (b) topics.push("brand:" + b); });
  var pending = null;
  function refresh() {
    // Coalesce bursts of events into one partial reload.
    if (pending) return;
    pending = setTimeout(function () { pending = null; body.dispatchEvent(new CustomEvent("kefu:refresh")); }, 150);
  }
  var delay = 500;
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/api/v1/ws");
    ws.onopen = function () {
      delay = 500;
      ws.send(JSON.stringify({ op: "subscribe", topics: topics }));
      if (live) { live.textContent = body.dataset.liveOn; live.classList.add("on"); }
    };
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.op === "event") refresh();
    };
    ws.onclose = function () {
      if (live) { live.textContent = body.dataset.liveOff; live.classList.remove("on"); }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  if (topics.length) connect(); else if (live) live.textContent = "";
  function scrollTimeline() {
    var tl = document.querySelector(".timeline");
    if (tl) tl.scrollTop = tl.scrollHeight;
  }
  scrollTimeline();
  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-insert]") : null;
    if (!btn) return;
    var ta = document.getElementById("body");
    if (ta) { ta.value = btn.getAttribute("data-insert"); ta.focus(); }
  });
  document.addEventListener("change", function (e) {
    // Inserting a canned response fills the composer so the agent can still edit it.
    if (e.target.id !== "canned" || !e.target.value) return;
    var ta = document.getElementById(e.target.dataset.target);
    if (ta) { ta.value = ta.value ? ta.value + "\n" + e.target.value : e.target.value; ta.focus(); }
    e.target.value = "";
  });
  body.addEventListener("htmx:afterSwap", scrollTimeline);
  var selected = -1;
  var gPressed = false;
  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    var typing = tag === "input" || tag === "textarea" || tag === "select";
    if (typing) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.form) { e.preventDefault(); e.target.form.requestSubmit(); }
      if (e.key === "Escape") e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var items = Array.prototype.slice.call(document.querySelectorAll(".conv"));
    if (gPressed && e.key === "i") { location.href = "/console"; return; }
    gPressed = e.key === "g";
    if (e.key === "r" || e.key === "n") {
      var radio = document.querySelector('.composer input[value="' + (e.key === "r" ? "reply" : "note") + '"]');
      var ta = document.getElementById("body");
      if (radio && ta) { e.preventDefault(); radio.checked = true; ta.focus(); }
    } else if ((e.key === "j" || e.key === "k") && items.length) {
      e.preventDefault();
      selected = Math.max(0, Math.min(items.length - 1, selected + (e.key === "j" ? 1 : -1)));
      items.forEach(function (it, i) { it.classList.toggle("selected", i === selected); });
      items[selected].querySelector("a").focus();
    } else if (e.key === "/") {
      var q = document.getElementById("q");
      if (q) { e.preventDefault(); q.focus(); }
    }
  });
})();
