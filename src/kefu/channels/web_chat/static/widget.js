/* kefu 客服 web chat widget — vanilla JS, no dependencies.
 * <script src="https://kefu.example/api/v1/widget/widget.js" data-brand="shop" data-inbox="3" data-locale="zh-TW" async></script>
 * Resumes after reconnects: the last seen message id is kept in localStorage and sent with {"op":"resume"}. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src).origin;
  var inbox = parseInt(script.getAttribute("data-inbox"), 10);
  var brand = script.getAttribute("data-brand") || "";
  var STR = {
    "zh-TW": { title: "線上客服", placeholder: "輸入訊息…", send: "送出", typing: "客服輸入中…", offline: "目前非服務時間，請留言，我們會盡快回覆。",
      name: "姓名", contact: "Email 或電話", message: "留言內容", leave: "送出留言", thanks: "已收到留言，案件編號：", attach: "附件", tooBig: "檔案太大或格式不支援" },
    "zh-CN": { title: "在线客服", placeholder: "输入消息…", send: "发送", typing: "客服输入中…", offline: "目前非服务时间，请留言，我们会尽快回复。",
      name: "姓名", contact: "Email 或电话", message: "留言内容", leave: "提交留言", thanks: "已收到留言，工单编号：", attach: "附件", tooBig: "文件太大或格式不支持" },
    "en": { title: "Chat with us", placeholder: "Type a message…", send: "Send", typing: "Agent is typing…", offline: "We are offline. Leave a message and we will reply soon.",
      name: "Name", contact: "Email or phone", message: "Message", leave: "Send message", thanks: "Received. Case number: ", attach: "Attach", tooBig: "File too large or not supported" }
  };
  var nav = (navigator.language || "zh-TW");
  var locale = script.getAttribute("data-locale") || (/^zh-(CN|SG|Hans)/i.test(nav) ? "zh-CN" : /^zh/i.test(nav) ? "zh-TW" : "en");
  var t = STR[locale] || STR["zh-TW"];
  var key = "kefu:" + base + ":" + inbox;
  var state = JSON.parse(localStorage.getItem(key) || "{}");
  function save() { localStorage.setItem(key, JSON.stringify(state)); }
  // Styles go through CSSOM (style.cssText), which a host page's Content-Security-Policy allows; a style attribute
  // would need 'unsafe-inline'.
  function el(tag, attrs, text) { var e = document.createElement(tag); for (var k in attrs || {}) { if (k === "style") e.style.cssText = attrs[k]; else e.setAttribute(k, attrs[k]); } if (text) e.textContent = text; return e; }

  var root = el("div", { style: "position:fixed;right:16px;bottom:16px;z-index:2147483000;font-family:system-ui,'PingFang TC','Microsoft JhengHei',sans-serif" });
  var button = el("button", { type: "button", "aria-label": t.title, style: "border-radius:24px;padding:10px 16px;border:0;background:#f60;color:#fff;cursor:pointer" }, t.title);
  var panel = el("div", { style: "display:none;width:320px;height:440px;background:#fff;border:1px solid #ddd;border-radius:8px;flex-direction:column;box-shadow:0 4px 16px rgba(0,0,0,.15)" });
  var log = el("div", { style: "flex:1;overflow:auto;padding:8px;font-size:14px", role: "log", "aria-live": "polite" });
  var typing = el("div", { style: "font-size:12px;color:#888;padding:0 8px;height:16px" });
  var form = el("form", { style: "display:flex;border-top:1px solid #eee" });
  var input = el("input", { placeholder: t.placeholder, "aria-label": t.placeholder, style: "flex:1;border:0;padding:8px", maxlength: "10000" });
  var file = el("input", { type: "file", "aria-label": t.attach, accept: "image/*,video/mp4,video/webm", style: "display:none" });
  var clip = el("button", { type: "button", title: t.attach, "aria-label": t.attach, style: "border:0;background:none;cursor:pointer" }, "📎");
  var send = el("button", { type: "submit", style: "border:0;background:#f60;color:#fff;padding:0 12px" }, t.send);
  form.append(input, clip, file, send);
  panel.append(log, typing, form);
  root.append(panel, button);
  document.body.appendChild(root);
  button.onclick = function () { panel.style.display = panel.style.display === "none" ? "flex" : "none"; if (panel.style.display === "flex") start(); };

  var shown = {};
  function render(m) {
    if (shown[m.id]) return;
    shown[m.id] = true;
    var mine = m.sender_type === "customer";
    var b = el("div", { style: "margin:4px 0;text-align:" + (mine ? "right" : "left") });
    var bubble = el("span", { style: "display:inline-block;padding:6px 10px;border-radius:12px;max-width:80%;white-space:pre-wrap;background:" + (mine ? "#ffe3cc" : "#f1f1f1") }, m.body || "");
    (m.attachments || []).forEach(function (a) {
      if (!a.url) return;
      var link = el("a", { href: base + a.url + "?vt=" + encodeURIComponent(state.token), target: "_blank", rel: "noopener" }, "📎 " + (a.filename || "file"));
      bubble.appendChild(el("br")); bubble.appendChild(link);
    });
    b.appendChild(bubble); log.appendChild(b); log.scrollTop = log.scrollHeight;
    if (m.id > (state.last || 0)) { state.last = m.id; save(); }
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
      if (s.greeting) log.appendChild(el("div", { style: "color:#666;font-size:13px" }, s.greeting));
      if (!s.online) offlineForm(); else connect();
    });
  }
  function connect() {
    ws = new WebSocket(base.replace(/^http/, "ws") + "/api/v1/widget/ws?token=" + encodeURIComponent(state.token));
    ws.onopen = function () { retry = 500; ws.send(JSON.stringify({ op: "resume", last_id: state.last || 0 })); outbox.forEach(function (m) { ws.send(JSON.stringify(m)); }); };
    ws.onmessage = function (e) {
      var d = JSON.parse(e.data);
      if (d.op === "message") render(d.message);
      else if (d.op === "ack") { outbox = outbox.filter(function (m) { return m.client_id !== d.client_id; }); render(d.message); }
      else if (d.op === "typing") { typing.textContent = d.typing ? t.typing : ""; }
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
  function queue(body, ids) {
    var m = { op: "message", body: body, attachment_ids: ids || [], client_id: Date.now().toString(36) + Math.random().toString(36).slice(2) };
    outbox.push(m); // kept until acknowledged, re-sent after a reconnect (the server dedupes by client_id)
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(m));
  }
  form.onsubmit = function (e) { e.preventDefault(); if (input.value.trim()) { queue(input.value); input.value = ""; } };
  clip.onclick = function () { file.click(); };
  file.onchange = function () {
    var fd = new FormData(); fd.append("file", file.files[0]);
    fetch(base + "/api/v1/widget/attachments", { method: "POST", headers: { "X-Kefu-Visitor": state.token }, body: fd })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (a) { queue("", [a.id]); })
      .catch(function () { log.appendChild(el("div", { style: "color:#c00" }, t.tooBig)); });
    file.value = "";
  };
  function offlineForm() {
    form.style.display = "none";
    var f = el("form", { style: "padding:8px" });
    f.appendChild(el("p", {}, t.offline));
    var n = el("input", { placeholder: t.name, "aria-label": t.name, required: "", style: "width:100%;margin:4px 0" });
    var c = el("input", { placeholder: t.contact, "aria-label": t.contact, required: "", style: "width:100%;margin:4px 0" });
    var m = el("textarea", { placeholder: t.message, "aria-label": t.message, required: "", rows: "4", style: "width:100%;margin:4px 0" });
    var s = el("button", { type: "submit" }, t.leave);
    f.append(n, c, m, s); log.appendChild(f);
    f.onsubmit = function (e) {
      e.preventDefault();
      api("/api/v1/widget/leave-message", { name: n.value, contact: c.value, message: m.value }).then(function (r) {
        f.replaceWith(el("p", {}, t.thanks + r.ticket_number));
      });
    };
  }
})();
