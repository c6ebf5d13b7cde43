// Console alerts: the call pop-up, opt-in desktop and sound notifications, the live unread badge and macro drafts.
// Events arrive from console.js's WebSocket as "kefu:event" on <body> (the agent's own topic is on every page).
(function () {
  "use strict";
  var body = document.body;
  var me = body.dataset.agentId;
  if (!me) return;
  var box = document.getElementById("alerts");
  var toggle = document.getElementById("alerts-toggle");
  var pop = document.getElementById("call-pop");
  var status = document.getElementById("alert-status");
  var key = "kefu.alerts." + me;
  function enabled() { try { return localStorage.getItem(key) === "on"; } catch (e) { return false; } }
  function setEnabled(on) { try { localStorage.setItem(key, on ? "on" : "off"); } catch (e) { /* private mode */ } }
  function render() {
    if (!toggle || !box) return;
    var on = enabled();
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.title = on ? box.dataset.on : box.dataset.off;
    toggle.firstChild.textContent = on ? "🔔" : "🔕";
  }
  var audio = null;
  function beep() {
    // A short two-tone chime made with WebAudio: no sound file to fetch, works offline.
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.18].forEach(function (at, i) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = i ? 660 : 880;
        gain.gain.setValueAtTime(0.12, audio.currentTime + at);
        gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + 0.16);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(audio.currentTime + at); osc.stop(audio.currentTime + at + 0.17);
      });
      body.dataset.lastChime = String(Date.now());
    } catch (e) { /* no audio device */ }
  }
  function alertUser(title, text, url, tag) {
    if (!enabled()) return;
    beep();
    if (status) status.textContent = title + (text ? " · " + text : "");
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      var n = new Notification(title, { body: text || "", tag: tag || undefined });
      n.onclick = function () { window.focus(); if (url) location.href = url; n.close(); };
      body.dataset.lastNotification = title;
    } catch (e) { /* some browsers only allow notifications from a service worker */ }
  }
  if (toggle) {
    render();
    toggle.addEventListener("click", function () {
      var on = !enabled();
      setEnabled(on);
      render();
      if (status) status.textContent = on ? box.dataset.on : box.dataset.off;
      // Permission is asked only here, after the agent opted in (never on page load).
      if (on && "Notification" in window && Notification.permission === "default") {
        Notification.requestPermission().then(function (p) {
          if (p === "denied" && status) status.textContent = box.dataset.denied;
        });
      } else if (on && "Notification" in window && Notification.permission === "denied" && status) {
        status.textContent = box.dataset.denied;
      }
      if (on) beep();
    });
  }
  // ------------------------------------------------------------------ call pop-up
  var current = { call: null, customer: null, conversation: null };
  function loadPop(state, data) {
    if (!pop || !window.htmx) return;
    var q = "customer_id=" + encodeURIComponent(data.customer_id) + "&state=" + state +
      "&call_id=" + encodeURIComponent(data.call_id || "") +
      (data.conversation_id ? "&conversation_id=" + encodeURIComponent(data.conversation_id) : "");
    window.htmx.ajax("GET", "/console/calls/pop?" + q, { target: "#call-pop", swap: "innerHTML" }).then(function () {
      pop.hidden = false;
      pop.dataset.callId = data.call_id || "";
      pop.dataset.state = state;
    });
  }
  function onCall(ev) {
    var d = ev.data || {};
    var kind = ev.type.slice(5);
    if (kind === "ringing" || kind === "answered") {
      // A call rung to a colleague's extension reaches this page through the brand topic too: not ours.
      if (d.agent_id && String(d.agent_id) !== me) return;
      if (!d.customer_id) return;
      current = { call: d.call_id, customer: d.customer_id, conversation: d.conversation_id };
      loadPop(kind, d);
      if (kind === "ringing") alertUser(box ? box.dataset.call : "📞", "", d.conversation_id ? "/console/conversations/" + d.conversation_id : "", "call-" + d.call_id);
    } else if (kind === "logged") {
      if (!pop || pop.hidden || current.call !== d.call_id) return;
      loadPop(d.missed ? "missed" : "logged", { call_id: d.call_id, customer_id: d.customer_id || current.customer, conversation_id: d.conversation_id });
    }
  }
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-close-call]") && pop) { pop.hidden = true; pop.textContent = ""; current = {}; }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && pop && !pop.hidden && pop.contains(document.activeElement)) { pop.hidden = true; pop.textContent = ""; }
  });
  // ------------------------------------------------------------------ notifications and replies
  var conv = document.querySelector(".conversation");
  body.addEventListener("kefu:event", function (e) {
    var ev = e.detail || {};
    var d = ev.data || {};
    if (!ev.type) return;
    if (ev.type.indexOf("call.") === 0) { onCall(ev); return; }
    if (ev.type === "notification.created") {
      body.dispatchEvent(new CustomEvent("kefu:notified"));
      var label = d.kind === "mention" ? box.dataset.mention : (d.kind === "ticket.assigned" ? box.dataset.assigned : box.dataset.other);
      var url = d.data && d.data.conversation_id ? "/console/conversations/" + d.data.conversation_id : (d.ticket_id ? "/console/tickets/" + d.ticket_id : "/console/notifications");
      var titles = d.titles || {};  // the page's language, not only the one the notification was stored in
      alertUser(label, titles[document.documentElement.lang] || d.title || "", url, "n-" + d.id);
    } else if (ev.type === "message.inbound" && d.sender_type === "customer" && String(d.assignee_id || "") === me) {
      var here = conv && String(d.conversation_id) === conv.dataset.convId && !document.hidden;
      if (!here) alertUser(box.dataset.reply, "#" + d.conversation_id, "/console/conversations/" + d.conversation_id, "c-" + d.conversation_id);
    }
  });
  // ------------------------------------------------------------------ macro drafts fill the composer
  function takeDraft() {
    var tpl = document.getElementById("macro-draft");
    var ta = document.getElementById("body");
    if (!tpl || !ta) return;
    var text = tpl.content ? tpl.content.textContent : tpl.textContent;
    tpl.parentNode.removeChild(tpl);
    if (!text) return;
    ta.value = ta.value ? ta.value + "\n" + text : text;
    ta.focus();
  }
  body.addEventListener("htmx:afterSettle", takeDraft);
})();
