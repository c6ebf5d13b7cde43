// Agent console: AI-assist panel (drafts and translations through /api/v1/conversations/{id}/llm/*).
// Output is shown with textContent only; the agent decides whether it goes into the reply box.
(function () {
  "use strict";
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  function lastCustomerMessageId() {
    var items = document.querySelectorAll(".timeline li.msg.from-customer:not(.note)");
    return items.length ? parseInt(items[items.length - 1].dataset.messageId, 10) : null;
  }
  function show(panel, note, text) {
    panel.querySelector(".llm-note").textContent = note || "";
    panel.querySelector(".llm-text").textContent = text || "";
    var use = panel.querySelector(".llm-use");
    if (use) use.hidden = !text;
  }
  function call(panel, path, payload, buttons) {
    buttons.forEach(function (b) { b.disabled = true; });
    show(panel, panel.dataset.working, "");
    return fetch("/api/v1/conversations/" + panel.dataset.convId + "/llm/" + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(payload)
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (out) {
      var note = "";
      if (out.source === "kb") note = panel.dataset.fallback;
      else if (out.source === "none") note = panel.dataset.failed;
      else if (out.flags && out.flags.length) note = panel.dataset.flags;
      show(panel, note, out.text);
    }).catch(function () {
      show(panel, panel.dataset.failed, "");
    }).then(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }
  // A translate button on every customer message once the panel is there (LLM assist on for this brand).
  function addMessageButtons() {
    var panel = document.getElementById("llm");
    if (!panel || !panel.dataset.translateMsg) return;
    document.querySelectorAll(".timeline li.msg.from-customer:not(.note)").forEach(function (li) {
      if (li.querySelector(".llm-msg")) return;
      var b = document.createElement("button");
      b.type = "button";
      b.className = "llm-msg";
      b.dataset.messageId = li.dataset.messageId;
      b.textContent = panel.dataset.translateMsg;
      b.setAttribute("aria-label", panel.dataset.translateMsg + " #" + li.dataset.messageId);
      li.querySelector(".meta").appendChild(b);
    });
  }
  document.addEventListener("htmx:afterSettle", addMessageButtons);
  document.addEventListener("DOMContentLoaded", addMessageButtons);
  document.addEventListener("click", function (e) {
    var one = e.target.closest ? e.target.closest(".timeline .llm-msg") : null;
    if (one) {
      var p = document.getElementById("llm");
      if (p) call(p, "translate", { message_id: parseInt(one.dataset.messageId, 10) }, [one]);
      return;
    }
    var btn = e.target.closest ? e.target.closest("#llm [data-llm], #llm .llm-use") : null;
    if (!btn) return;
    var panel = document.getElementById("llm");
    var composer = document.getElementById("body");
    var buttons = Array.prototype.slice.call(panel.querySelectorAll("[data-llm]"));
    if (btn.classList.contains("llm-use")) {
      if (composer) { composer.value = panel.querySelector(".llm-text").textContent; composer.focus(); }
      return;
    }
    var action = btn.dataset.llm;
    if (action === "draft") {
      var ins = document.getElementById("llm-instructions");
      call(panel, "draft", { instructions: ins ? ins.value : "" }, buttons);
    } else if (action === "translate-last") {
      var id = lastCustomerMessageId();
      if (id === null) { show(panel, panel.dataset.nothing, ""); return; }
      call(panel, "translate", { message_id: id }, buttons);
    } else if (action === "translate-draft") {
      if (!composer || !composer.value.trim()) return;
      var target = document.getElementById("llm-target");
      var payload = { text: composer.value };
      if (target && target.value) payload.target_locale = target.value;
      call(panel, "translate", payload, buttons);
    }
  });
})();
