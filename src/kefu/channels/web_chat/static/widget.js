/* kefu 客服 web chat widget — vanilla JS, no dependencies, no inline styles (its stylesheet is widget.css).
 * <script src="https://kefu.example/api/v1/widget/widget.js" data-brand="shop" data-inbox="3" data-locale="zh-TW" async></script>
 * Resumes after reconnects: the last seen message id is kept in localStorage and sent with {"op":"resume"}.
 * Bot answers arrive as server-sanitised HTML (message.html); quick replies send their text as the customer's
 * message; answers offer "helpful / not helpful" once. Optional data-color="#0a7" themes it; any element with
 * data-kefu-open on the host page opens the chat. Full screen below 480 px; Esc or the header button minimises. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src).origin;
  var inbox = parseInt(script.getAttribute("data-inbox"), 10);
  var brand = script.getAttribute("data-brand") || "";
  // Texts come from the gettext catalogs (widget_* keys); the server fills them in when it serves this file.
  var STR = /*KEFU_STRINGS*/{};
  var nav = (navigator.language || "zh-TW");
  var locale = script.getAttribute("data-locale") || (/^zh-(CN|SG|Hans)/i.test(nav) ? "zh-CN" : /^zh/i.test(nav) ? "zh-TW" : "en");
  var t = STR[locale] || STR["zh-TW"];
  var key = "kefu:" + base + ":" + inbox;
  var state = JSON.parse(localStorage.getItem(key) || "{}");
  function save() { localStorage.setItem(key, JSON.stringify(state)); }
  // Styles go through CSSOM (style.cssText), which a host page's Content-Security-Policy allows; a style attribute
  // would need 'unsafe-inline'.
  function el(tag, attrs, text) { var e = document.createElement(tag); for (var k in attrs || {}) { if (k === "style") e.style.cssText = attrs[k]; else e.setAttribute(k, attrs[k]); } if (text) e.textContent = text; return e; }

  if (!document.querySelector('link[data-kefu-widget]')) {
    document.head.appendChild(el("link", { rel: "stylesheet", href: base + "/api/v1/widget/widget.css", "data-kefu-widget": "" }));
  }
  // The brand's colours (admin → brand appearance) as custom properties from kefu's per-brand stylesheet.
  if (brand && !document.querySelector('link[data-kefu-brand]')) {
    document.head.appendChild(el("link", { rel: "stylesheet", href: base + "/portal/" + encodeURIComponent(brand) + "/brand.css", "data-kefu-brand": "" }));
  }
  var root = el("div", { "class": "kefu-root", lang: locale });
  var color = script.getAttribute("data-color"); // theme: any CSS colour, set through CSSOM (CSP-safe)
  if (color) root.style.setProperty("--kefu-accent", color);
  var button = el("button", { type: "button", "class": "kefu-launcher", "aria-label": t.title, "aria-expanded": "false", "aria-controls": "kefu-panel" });
  button.append(el("span", { "class": "kefu-icon", "aria-hidden": "true" }), el("span", { "class": "kefu-label" }, t.title));
  var badge = el("span", { "class": "kefu-badge", hidden: "" });
  button.appendChild(badge);
  var panel = el("div", { "class": "kefu-panel", id: "kefu-panel", role: "dialog", "aria-label": t.title, hidden: "" });
  var head = el("div", { "class": "kefu-head" });
  var avatar = el("span", { "class": "kefu-avatar", "aria-hidden": "true" }, (brand || "k").charAt(0).toUpperCase());
  var titles = el("div", { "class": "kefu-titles" });
  var name = el("strong", { "class": "kefu-title" }, t.title);
  var status = el("span", { "class": "kefu-status" }, t.online);
  titles.append(name, status);
  var min = el("button", { type: "button", "class": "kefu-min", "aria-label": t.minimize, title: t.minimize }, "\u2013");
  // Accessibility needs (seed 003): declared by the visitor with consent; notices then vibrate, call-backs adapt.
  var a11yBtn = el("button", { type: "button", "class": "kefu-min", "aria-label": t.a11y, title: t.a11y, "aria-expanded": "false", "aria-controls": "kefu-a11y" }, "\u267F");
  head.append(avatar, titles, a11yBtn, min);
  var a11y = el("form", { "class": "kefu-a11y", id: "kefu-a11y", hidden: "" });
  var fs = el("fieldset", {});
  fs.appendChild(el("legend", {}, t.a11y));
  function check(value, text) { var c = el("input", { type: "checkbox", value: value }), l = el("label", {}); l.append(c, " " + text); fs.appendChild(l); return c; }
  var boxes = [["deaf", t.a11yDeaf], ["hard_of_hearing", t.a11yHoh], ["blind", t.a11yBlind], ["low_vision", t.a11yLow]].map(function (n) {
    var c = check(n[0], n[1]); c.checked = (state.needs || []).indexOf(n[0]) >= 0; return c;
  });
  var consent = check("", t.a11yConsent); consent.required = true;
  fs.appendChild(el("p", {}, t.a11yHint));
  var a11yMsg = el("p", { role: "status", "aria-live": "polite" });
  a11y.append(fs, el("button", { type: "submit" }, t.a11ySave), a11yMsg);
  var log = el("div", { "class": "kefu-log", role: "log", "aria-live": "polite", tabindex: "0", "aria-label": t.title });
  var typing = el("div", { "class": "kefu-typing", "aria-live": "polite" });
  // Important notices (case status, call-back reminders, outages) are announced at once, not only logged.
  var alertBox = el("div", { "class": "kefu-sr", role: "alert", "aria-live": "assertive" });
  var form = el("form", { "class": "kefu-form" });
  var input = el("textarea", { "class": "kefu-input", placeholder: t.placeholder, "aria-label": t.placeholder, maxlength: "10000", rows: "1" });
  var file = el("input", { "class": "kefu-file", type: "file", "aria-label": t.attach, accept: "image/*,video/mp4,video/webm,application/pdf" });
  var clip = el("button", { "class": "kefu-clip", type: "button", title: t.attach, "aria-label": t.attach }, "📎");
  var send = el("button", { "class": "kefu-send", type: "submit" }, t.send);
  form.append(clip, file, input, send);
  panel.append(head, a11y, log, typing, alertBox, form);
  root.append(panel, button);
  document.body.appendChild(root);
  var unread = 0;
  function setOpen(open) {
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    root.classList.toggle("kefu-open", open);
    if (open) { unread = 0; badge.hidden = true; start(); input.focus(); log.scrollTop = log.scrollHeight; }
  }
  button.onclick = function () { setOpen(panel.hidden); };
  min.onclick = function () { setOpen(false); button.focus(); };
  a11yBtn.onclick = function () {
    var open = a11y.hidden; a11y.hidden = !open; a11yBtn.setAttribute("aria-expanded", String(open)); a11yMsg.textContent = "";
    if (open) boxes[0].focus();
  };
  a11y.onsubmit = function (e) {
    e.preventDefault(); a11yMsg.textContent = "";
    var needs = boxes.filter(function (c) { return c.checked; }).map(function (c) { return c.value; });
    fetch(base + "/api/v1/widget/accessibility", {
      method: "PUT", headers: { "Content-Type": "application/json", "X-Kefu-Visitor": state.token || "" }, body: JSON.stringify({ needs: needs, consent: consent.checked })
    }).then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (d) { state.needs = d.needs; save(); a11yMsg.textContent = t.a11ySaved; })
      .catch(function () { a11yMsg.textContent = t.a11yFailed; });
  };
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { setOpen(false); button.focus(); } });
  // Pages (e.g. the help centre) open the chat from their own buttons: <button data-kefu-open>.
  document.addEventListener("click", function (e) {
    var o = e.target && e.target.closest && e.target.closest("[data-kefu-open]");
    if (o) { e.preventDefault(); setOpen(true); }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.onsubmit(e); }
  });
  // Times in the brand's zone (from the session), like the help centre and the agents' console; the device's without.
  var zone = "";
  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    var opts = { hour: "2-digit", minute: "2-digit" };
    if (zone) opts.timeZone = zone;
    try { return d.toLocaleTimeString(locale, opts); } catch (e) { delete opts.timeZone; return d.toLocaleTimeString(locale, opts); }
  }
  var shown = {};
  function clearQuickReplies() { Array.prototype.forEach.call(log.querySelectorAll(".kefu-qr"), function (n) { n.remove(); }); }
  function quickReplies(row, items) {
    var box = el("div", { "class": "kefu-actions kefu-qr", role: "group", "aria-label": t.options });
    items.forEach(function (q) {
      var b = el("button", { type: "button" }, q.label);
      b.onclick = function () { clearQuickReplies(); queue(q.text); };
      box.appendChild(b);
    });
    row.appendChild(box);
  }
  // After "not helpful" the visitor is offered a person at once: one tap sends the ask the bot hands off on.
  function unhelped() {
    var wrap = el("div", { "class": "kefu-actions", role: "status" });
    wrap.appendChild(el("div", { "class": "kefu-thanks" }, t.rated));
    var b = el("button", { type: "button" }, t.toHuman);
    b.onclick = function () { wrap.removeChild(b); queue(t.toHumanText); };
    wrap.appendChild(b);
    return wrap;
  }
  function feedback(row, m) {
    if (m.feedback.voted !== null && m.feedback.voted !== undefined) { row.appendChild(el("div", { "class": "kefu-thanks" }, t.rated)); return; }
    var box = el("div", { "class": "kefu-actions kefu-fb", role: "group", "aria-label": t.ask });
    [[true, t.helpful], [false, t.notHelpful]].forEach(function (v) {
      var b = el("button", { type: "button", "data-helpful": String(v[0]) }, v[1]);
      b.onclick = function () {
        Array.prototype.forEach.call(box.querySelectorAll("button"), function (x) { x.disabled = true; });
        fetch(base + "/api/v1/widget/messages/" + m.id + "/feedback", {
          method: "POST", headers: { "Content-Type": "application/json", "X-Kefu-Visitor": state.token }, body: JSON.stringify({ helpful: v[0] })
        }).then(function (r) {
          if (r.ok || r.status === 409) box.replaceWith(v[0] ? el("div", { "class": "kefu-thanks", role: "status" }, t.rated) : unhelped());
          else Array.prototype.forEach.call(box.querySelectorAll("button"), function (x) { x.disabled = false; });
        });
      };
      box.appendChild(b);
    });
    row.appendChild(box);
  }
  function render(m) {
    if (shown[m.id]) return;
    shown[m.id] = true;
    clearQuickReplies(); // quick replies belong to the latest message only
    var mine = m.sender_type === "customer";
    var row = el("div", { "class": "kefu-row kefu-" + (m.sender_type || "system") + (mine ? " kefu-mine" : ""), "data-id": String(m.id) });
    var who = mine ? t.you : m.sender_type === "bot" ? t.bot : m.sender_type === "agent" ? (m.sender_name || t.agent) : "";
    var meta = el("div", { "class": "kefu-meta" });
    if (who) meta.appendChild(el("span", { "class": "kefu-who" }, who));
    if (m.created_at) meta.appendChild(el("time", { datetime: m.created_at }, clock(m.created_at)));
    row.appendChild(meta);
    var bubble = el("div", { "class": "kefu-bubble" });
    if (m.html) { bubble.className += " kefu-rich"; bubble.innerHTML = m.html; } // sanitised by the server (nh3)
    else bubble.textContent = m.body || "";
    (m.attachments || []).forEach(function (a) {
      if (!a.url) return;
      var href = base + a.url + "?vt=" + encodeURIComponent(state.token);
      var link = el("a", { href: href, target: "_blank", rel: "noopener", "class": "kefu-att" });
      if (/^image\//.test(a.content_type || "")) link.appendChild(el("img", { src: href, alt: a.filename || t.file, loading: "lazy" }));
      else link.textContent = "📎 " + (a.filename || t.file);
      bubble.appendChild(link);
    });
    row.appendChild(bubble);
    if (m.quick_replies && m.quick_replies.length) quickReplies(row, m.quick_replies);
    if (m.feedback && m.feedback.ask) feedback(row, m);
    log.appendChild(row); log.scrollTop = log.scrollHeight;
    if (m.notice && !mine) row.className += " kefu-notice";
    if (m.notice && !mine && m.id > (state.last || 0)) {
      alertBox.textContent = m.body || "";
      // Tactile cue for customers who declared low vision, where the device can vibrate (seed 003 盲文/觸覺提示).
      if (m.haptic && typeof navigator.vibrate === "function") navigator.vibrate([200, 100, 200]);
    }
    if (m.id > (state.last || 0)) {
      if (panel.hidden && !mine && state.last) { unread++; badge.textContent = String(unread); badge.hidden = false; badge.setAttribute("aria-label", unread + " " + t.unread); }
      state.last = m.id; save();
    }
  }
  function api(path, body, headers) {
    var h = { "Content-Type": "application/json" }; if (state.token) h["X-Kefu-Visitor"] = state.token;
    for (var k in headers || {}) h[k] = headers[k];
    return fetch(base + path, { method: "POST", headers: h, body: body instanceof FormData ? body : JSON.stringify(body) })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }
  var ws = null, started = false, retry = 500, outbox = [];
  function start() {
    if (started) return; started = true;
    api("/api/v1/widget/session", { inbox_id: inbox, brand: brand, visitor_token: state.token, locale: locale }).then(function (s) {
      state.token = s.visitor_token; save();
      zone = s.timezone || "";
      if (s.brand_name) { name.textContent = s.brand_name; avatar.textContent = s.brand_name.charAt(0); }
      status.textContent = s.online ? t.online : t.away;
      root.classList.toggle("kefu-away", !s.online);
      // A first visit without a configured greeting still says what to do; a returning visitor sees the conversation.
      var hello = s.greeting || (s.conversation_id ? "" : t.welcome);
      if (hello) log.appendChild(el("div", { "class": "kefu-greeting" }, hello));
      if (!s.online) offlineForm(); else if (s.prechat && !state.named) prechat(); else connect();
    }, function (e) { // a busy or unreachable server: try again (a 4xx answer would not change)
      var code = +e.message; if (code >= 400 && code < 500 && code !== 429) return;
      started = false; setTimeout(start, retry); retry = Math.min(retry * 2, 15000);
    });
  }
  function connect() {
    ws = new WebSocket(base.replace(/^http/, "ws") + "/api/v1/widget/ws?token=" + encodeURIComponent(state.token));
    // A fresh page replays the whole conversation; a reconnect only what it missed.
    ws.onopen = function () { retry = 500; ws.send(JSON.stringify({ op: "resume", last_id: Object.keys(shown).length ? (state.last || 0) : 0 })); outbox.forEach(function (m) { ws.send(JSON.stringify(m)); }); };
    ws.onmessage = function (e) {
      var d = JSON.parse(e.data);
      if (d.op === "message") render(d.message);
      else if (d.op === "ack") { outbox = outbox.filter(function (m) { return m.client_id !== d.client_id; }); render(d.message); }
      else if (d.op === "typing") { typing.textContent = d.typing ? t.typing : ""; }
      else if (d.op === "error" && d.retry) resend(d.client_id); // not stored (a busy server): sent again, later
      else if (d.op === "error") refused(d.client_id, d.detail); // never storable as it is: the customer decides
    };
    ws.onclose = function () { setTimeout(connect, retry); retry = Math.min(retry * 2, 15000); };
  }
  var typingTimer = null;
  input.oninput = function () {
    if (!ws || ws.readyState !== 1) return;
    if (!typingTimer) ws.send(JSON.stringify({ op: "typing", typing: true }));
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typingTimer = null; if (ws.readyState === 1) ws.send(JSON.stringify({ op: "typing", typing: false })); }, 2000);
  };
  var waits = {}; // client id -> the next resend's delay (kept out of the message the server validates)
  function resend(id) {
    var m = outbox.filter(function (x) { return x.client_id === id; })[0];
    if (!m) return;
    waits[id] = Math.min((waits[id] || 500) * 2, 15000);
    setTimeout(function () { if (outbox.indexOf(m) >= 0 && ws && ws.readyState === 1) ws.send(JSON.stringify(m)); }, waits[id]);
  }
  var carried = []; // attachments of a refused message being edited: sent again with the edited text
  // A message the server will never store as it is (too long, invalid) leaves the outbox, so no reconnect re-sends
  // it, and stays on screen marked as not sent, with the reason, until the customer edits and resends or removes it.
  function refused(id, detail) {
    var m = outbox.filter(function (x) { return x.client_id === id; })[0];
    if (!m) return;
    outbox = outbox.filter(function (x) { return x !== m; }); delete waits[id];
    var row = el("div", { "class": "kefu-row kefu-mine kefu-unsent", "data-client-id": id });
    var meta = el("div", { "class": "kefu-meta" });
    meta.appendChild(el("span", { "class": "kefu-who" }, t.you));
    row.appendChild(meta);
    var bubble = el("div", { "class": "kefu-bubble" }, m.body || "");
    if (m.attachment_ids.length) bubble.appendChild(el("span", { "class": "kefu-att" }, "📎 " + t.file));
    row.appendChild(bubble);
    var why = el("p", { "class": "kefu-error kefu-why", id: "kefu-why-" + id }, t.notSent + (detail ? (/^zh/.test(locale) ? "：" : ": ") + detail : ""));
    row.appendChild(why);
    var box = el("div", { "class": "kefu-actions", role: "group", "aria-label": t.notSent });
    var edit = el("button", { type: "button", "class": "kefu-edit", "aria-describedby": why.id }, t.editResend);
    var drop = el("button", { type: "button", "class": "kefu-drop", "aria-describedby": why.id }, t.removeUnsent);
    edit.onclick = function () {
      input.value = m.body + (input.value ? "\n" + input.value : ""); carried = carried.concat(m.attachment_ids);
      row.remove(); input.focus();
    };
    drop.onclick = function () { row.remove(); input.focus(); };
    box.append(edit, drop);
    row.appendChild(box);
    log.appendChild(row); log.scrollTop = log.scrollHeight;
    alertBox.textContent = why.textContent; // said once to screen readers; the row keeps it on screen
  }
  function queue(body, ids) {
    var m = { op: "message", body: body, locale: locale, attachment_ids: ids || [], client_id: Date.now().toString(36) + Math.random().toString(36).slice(2) };
    outbox.push(m); // kept until acknowledged, re-sent after a reconnect (the server dedupes by client_id)
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(m));
  }
  form.onsubmit = function (e) {
    e.preventDefault();
    if (input.value.trim() || carried.length) { queue(input.value, carried); input.value = ""; carried = []; }
  };
  clip.onclick = function () { file.click(); };
  file.onchange = function () {
    var fd = new FormData(); fd.append("file", file.files[0]);
    fetch(base + "/api/v1/widget/attachments", { method: "POST", headers: { "X-Kefu-Visitor": state.token }, body: fd })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (a) { queue("", [a.id]); })
      .catch(function () { log.appendChild(el("div", { "class": "kefu-error" }, t.tooBig)); });
    file.value = "";
  };
  function prechat() {
    form.hidden = true;
    var f = el("form", { "class": "kefu-offline kefu-prechat" });
    f.appendChild(el("p", {}, t.intro));
    var n = el("input", { placeholder: t.name, "aria-label": t.name, required: "", autocomplete: "name", maxlength: "200" });
    var c = el("input", { placeholder: t.email, "aria-label": t.email, type: "email", required: "", autocomplete: "email" });
    f.append(n, c, el("button", { type: "submit" }, t.start)); log.appendChild(f);
    f.onsubmit = function (e) {
      e.preventDefault();
      api("/api/v1/widget/session", { inbox_id: inbox, brand: brand, visitor_token: state.token, locale: locale, name: n.value, email: c.value })
        .then(function (s) { state.token = s.visitor_token; state.named = true; save(); f.remove(); form.hidden = false; input.focus(); connect(); });
    };
    n.focus();
  }
  function offlineForm() {
    form.hidden = true;
    var f = el("form", { "class": "kefu-offline" });
    f.appendChild(el("p", {}, t.offline));
    var n = el("input", { placeholder: t.name, "aria-label": t.name, required: "" });
    var c = el("input", { placeholder: t.contact, "aria-label": t.contact, required: "" });
    var m = el("textarea", { placeholder: t.message, "aria-label": t.message, required: "", rows: "4" });
    var s = el("button", { type: "submit" }, t.leave);
    f.append(n, c, m, s); log.appendChild(f);
    f.onsubmit = function (e) {
      e.preventDefault();
      api("/api/v1/widget/leave-message", { name: n.value, contact: c.value, message: m.value }).then(function (r) {
        f.replaceWith(el("p", {}, t.thanks + r.ticket_number));
      });
    };
  }
  // Where the visitor is, for proactive care (a visitor stuck on one step): the page path and the host page's flow
  // step (<body data-kefu-step="...">), once on load, on navigation and every minute while visible. Only once a
  // visitor token exists; no query string, no page content.
  function reportStep() {
    if (!state.token || document.visibilityState === "hidden") return;
    var step = (document.body && document.body.getAttribute("data-kefu-step")) || "";
    fetch(base + "/api/v1/widget/flow", {
      method: "POST", headers: { "Content-Type": "application/json", "X-Kefu-Visitor": state.token },
      body: JSON.stringify({ path: location.pathname, step: step.slice(0, 100) })
    }).catch(function () {});
  }
  reportStep();
  setInterval(reportStep, 60000);
  window.addEventListener("popstate", reportStep);
  window.addEventListener("hashchange", reportStep);
})();
