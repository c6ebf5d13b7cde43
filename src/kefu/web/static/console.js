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
  // The agent's own topic on every page: notifications, call pop-ups, customer replies (alerts.js listens).
  topics.push("agent:" + body.dataset.agentId);
  var pending = null;
  function refresh() {
    // Coalesce bursts of events into one partial reload.
    if (pending) return;
    pending = setTimeout(function () { pending = null; body.dispatchEvent(new CustomEvent("kefu:refresh")); }, 150);
  }
  var delay = 500;
  var socket = null;
  // Presence: who else is viewing or typing in this conversation (ephemeral, relayed by the server's bus).
  var presence = { others: {}, mine: "viewing", typingTimer: null, lastSent: 0 };
  var names = {};
  var namesEl = document.getElementById("agent-names");
  if (namesEl) { try { names = JSON.parse(namesEl.textContent || "{}"); } catch (err) { names = {}; } }
  function sendPresence(state, force) {
    if (!conv || !socket || socket.readyState !== 1) return;
    var now = Date.now();
    if (!force && state === presence.mine && now - presence.lastSent < 3000) return;
    presence.mine = state; presence.lastSent = now;
    socket.send(JSON.stringify({ op: "presence", conversation_id: Number(conv.dataset.convId), state: state }));
  }
  function renderPresence() {
    var box = document.getElementById("presence");
    if (!box || !conv) return;
    var now = Date.now(), typing = [], viewing = [];
    Object.keys(presence.others).forEach(function (id) {
      var p = presence.others[id];
      if (now - p.at > 45000 || p.state === "left") { delete presence.others[id]; return; }
      var who = names[id] || ("#" + id);
      if (p.state === "typing") typing.push(who); else viewing.push(who);
    });
    if (typing.length) {
      box.textContent = conv.dataset.collision.replace("{name}", typing.join("、"));
      box.classList.add("collision");
    } else {
      box.textContent = viewing.length ? conv.dataset.viewing.replace("{name}", viewing.join("、")) : "";
      box.classList.remove("collision");
    }
  }
  function onPresence(data) {
    if (!conv || String(data.conversation_id) !== conv.dataset.convId) return;
    if (String(data.agent_id) === body.dataset.agentId) return;
    var known = presence.others[data.agent_id];
    presence.others[data.agent_id] = { state: data.state, at: Date.now() };
    if (!known && data.state !== "left") sendPresence(presence.mine, true);  // let a newcomer see us too
    renderPresence();
  }
  if (conv) {
    setInterval(function () { sendPresence(presence.mine, true); renderPresence(); }, 20000);
    window.addEventListener("pagehide", function () { sendPresence("left", true); });
  }
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/api/v1/ws");
    socket = ws;
    ws.onopen = function () {
      delay = 500;
      ws.send(JSON.stringify({ op: "subscribe", topics: topics }));
    };
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.op === "subscribed") {
        // "Live" once the server has the subscription (it checks the topics first), not when the socket opens:
        // an event published in between would not reach this page.
        if (live) { live.textContent = body.dataset.liveOn; live.classList.add("on"); }
        sendPresence("viewing", true);
      }
      else if (msg.op === "event" && msg.event && msg.event.type === "agent.presence") onPresence(msg.event.data || {});
      else if (msg.op === "event") {
        body.dispatchEvent(new CustomEvent("kefu:event", { detail: msg.event || {} }));
        refresh();
      }
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
  var help = document.getElementById("shortcuts");
  function openHelp() { if (help && !help.open && help.showModal) help.showModal(); }
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-open-shortcuts]")) openHelp();
  });
  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    var typing = tag === "input" || tag === "textarea" || tag === "select";
    if (help && help.open) return;  // the dialog handles its own keys (Esc closes it)
    if (typing) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.form) { e.preventDefault(); e.target.form.requestSubmit(); }
      if (e.key === "Escape") e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var items = Array.prototype.slice.call(document.querySelectorAll(".conv"));
    if (gPressed && e.key === "i") { location.href = "/console"; return; }
    if (gPressed && e.key === "t") { location.href = "/console/tickets"; return; }
    if (gPressed && e.key === "c") { location.href = "/console/customers"; return; }
    gPressed = e.key === "g";
    if (e.key === "?") { e.preventDefault(); openHelp(); return; }
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
      var q = document.getElementById("q") || document.getElementById("s-q") || document.getElementById("gs-q");
      if (q) { e.preventDefault(); q.focus(); }
    }
  });
  // Composer: "/" at the start of a word opens the canned responses (filtered as you type); Enter/Tab inserts.
  var ta = document.getElementById("body");
  var menu = document.getElementById("macro-menu");
  var canned = document.getElementById("canned");
  if (ta && menu && canned) {
    var active = -1;
    var items = Array.prototype.slice.call(canned.options).filter(function (o) { return o.value; });
    function slashWord() {
      var upto = ta.value.slice(0, ta.selectionStart);
      var m = /(^|\s)\/([^\s\/]*)$/.exec(upto);
      return m ? { start: upto.length - m[2].length - 1, word: m[2].toLowerCase() } : null;
    }
    function closeMenu() { menu.hidden = true; active = -1; ta.setAttribute("aria-expanded", "false"); ta.removeAttribute("aria-activedescendant"); }
    function mark() {
      Array.prototype.forEach.call(menu.children, function (li, i) { li.setAttribute("aria-selected", i === active ? "true" : "false"); });
      if (active >= 0 && menu.children[active]) ta.setAttribute("aria-activedescendant", menu.children[active].id);
    }
    function openMenu() {
      var sw = slashWord();
      if (!sw) { closeMenu(); return; }
      var hits = items.filter(function (o) {
        return (o.dataset.shortcut || "").toLowerCase().indexOf(sw.word) === 0 || (o.dataset.title || "").toLowerCase().indexOf(sw.word) >= 0;
      }).slice(0, 8);
      menu.textContent = "";
      hits.forEach(function (o, i) {
        var li = document.createElement("li");
        li.id = "macro-" + i; li.setAttribute("role", "option"); li.dataset.text = o.value;
        var sc = document.createElement("span"); sc.className = "sc"; sc.textContent = "/" + (o.dataset.shortcut || "");
        li.appendChild(sc); li.appendChild(document.createTextNode(o.dataset.title || ""));
        menu.appendChild(li);
      });
      if (!hits.length) { closeMenu(); return; }
      menu.hidden = false; active = 0; ta.setAttribute("aria-expanded", "true"); mark();
    }
    function insert(li) {
      var sw = slashWord();
      if (!sw || !li) return;
      var after = ta.value.slice(ta.selectionStart);
      ta.value = ta.value.slice(0, sw.start) + li.dataset.text + after;
      var pos = sw.start + li.dataset.text.length;
      ta.setSelectionRange(pos, pos);
      closeMenu(); ta.focus();
    }
    ta.addEventListener("input", function () { openMenu(); sendPresence("typing"); clearTimeout(presence.typingTimer);
      presence.typingTimer = setTimeout(function () { sendPresence("viewing", true); }, 6000); });
    ta.addEventListener("blur", function () { setTimeout(closeMenu, 150); });
    ta.addEventListener("keydown", function (e) {
      if (menu.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault(); active = (active + (e.key === "ArrowDown" ? 1 : -1) + menu.children.length) % menu.children.length; mark();
      } else if ((e.key === "Enter" && !e.ctrlKey && !e.metaKey) || e.key === "Tab") {
        e.preventDefault(); e.stopPropagation(); insert(menu.children[active]);
      } else if (e.key === "Escape") {
        e.preventDefault(); e.stopPropagation(); closeMenu();
      }
    });
    menu.addEventListener("mousedown", function (e) { var li = e.target.closest("li"); if (li) { e.preventDefault(); insert(li); } });
  }
  // After a note with @mentions, say who was notified.
  body.addEventListener("kefu:mentioned", function (e) {
    var out = document.getElementById("mention-result");
    if (out && conv && e.detail && e.detail.names) out.textContent = conv.dataset.mentioned.replace("{names}", e.detail.names.join("、"));
  });
  body.addEventListener("htmx:afterRequest", function (e) {
    if (e.target && e.target.id === "composer" && e.detail.successful) sendPresence("viewing", true);
  });
})();
