// Inline errors for every htmx form (console, case page, customers, DSR, QA, follow-ups…). htmx drops 4xx/5xx
// bodies, which left people with "nothing happened"; here the server's error fragment (kefu.web.errors.form_error,
// marked X-Kefu-Form-Error) is placed in the form instead: a role=alert summary at its top and a message under each
// bad field (aria-invalid + aria-describedby), then focus moves to the first bad field. Responses without the marker
// but with HTML are a handler's own redisplay of the form with its errors (admin tabs, follow-up rows…) and are
// swapped in; 5xx, API problem+json and network failures get the page's localized fallback message.
(function () {
  "use strict";
  var MARK = "data-kefu-error";
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-Kefu-Locale"] = document.documentElement.lang || "";
  });
  function formOf(elt) {
    if (!elt) return null;
    return (elt.closest && elt.closest("form")) || elt.form || elt;
  }
  function clear(scope) {
    if (!scope || !scope.querySelectorAll) return;
    var prev = scope.previousElementSibling;
    if (prev && prev.hasAttribute(MARK)) prev.remove();
    Array.prototype.forEach.call(scope.querySelectorAll("[" + MARK + "]"), function (n) { n.remove(); });
    Array.prototype.forEach.call(scope.querySelectorAll("[data-kefu-invalid]"), function (f) {
      f.removeAttribute("aria-invalid");
      f.removeAttribute("data-kefu-invalid");
      var ids = (f.getAttribute("aria-describedby") || "").split(" ").filter(function (id) { return id && id.indexOf("kefu-err-") !== 0; });
      if (ids.length) f.setAttribute("aria-describedby", ids.join(" ")); else f.removeAttribute("aria-describedby");
    });
  }
  var seq = 0;
  var redisplayed = false;
  function para(text, cls) { var p = document.createElement("p"); p.textContent = text; if (cls) p.className = cls; return p; }
  function show(elt, headline, reason, fields) {
    var scope = formOf(elt);
    if (!scope || !scope.isConnected) return;
    clear(scope);
    var box = document.createElement("div");
    box.className = "form-error";
    box.setAttribute("role", "alert");
    box.setAttribute("tabindex", "-1");
    box.setAttribute(MARK, "");
    box.appendChild(para(headline));
    if (reason) box.appendChild(para(reason, "form-error-reason"));
    var first = null;
    fields.forEach(function (f) {
      var input = scope.querySelector ? scope.querySelector('[name="' + f.name.replace(/["\\]/g, "\\$&") + '"]') : null;
      if (input && input.type !== "hidden") {
        var msg = para(f.message, "field-error");
        msg.id = "kefu-err-" + (++seq);
        msg.setAttribute(MARK, "");
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("data-kefu-invalid", "");
        input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + msg.id).trim());
        // A file input lies inside its page-language button (partials/file_pick.html): the message goes after both.
        ((input.closest && input.closest(".file-field")) || input).insertAdjacentElement("afterend", msg);
        first = first || input;
      } else {
        box.appendChild(para(f.message, "form-error-reason"));
      }
    });
    if (scope.tagName === "FORM") scope.insertBefore(box, scope.firstChild);
    else scope.insertAdjacentElement("beforebegin", box);
    (first || box).focus({ preventScroll: false });
  }
  function fallback(status) {
    return document.body.getAttribute(status >= 500 || status === 0 ? "data-error-server" : "data-error-client") || "";
  }
  window.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr;
    if (!xhr || xhr.status < 400 || e.detail.shouldSwap) return;
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt || e.target;
    if (xhr.getResponseHeader("X-Kefu-Form-Error")) {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var src = doc.querySelector("[data-form-errors]");
      var fields = src ? Array.prototype.map.call(src.querySelectorAll("[data-field]"), function (p) {
        return { name: p.getAttribute("data-field"), message: p.textContent };
      }) : [];
      show(elt, src ? src.getAttribute("data-headline") : fallback(xhr.status), src && src.getAttribute("data-reason"), fields);
    } else if (xhr.status < 500 && /text\/html/.test(xhr.getResponseHeader("Content-Type") || "")) {
      // A handler that redisplayed its form (or row) with the errors in place: swap it in like a success.
      e.detail.shouldSwap = true;
      e.detail.isError = false;
      redisplayed = true;
      return;
    } else {
      var reason = null;
      if (/problem\+json/.test(xhr.getResponseHeader("Content-Type") || "")) {
        try { reason = JSON.parse(xhr.responseText).detail || null; } catch (err) { reason = null; }
      }
      show(elt, fallback(xhr.status), reason, []);
    }
    e.detail.shouldSwap = false;
  });
  window.addEventListener("htmx:sendError", function (e) {
    show(e.target, document.body.getAttribute("data-error-network") || fallback(0), null, []);
  });
  // After a redisplayed form is swapped in, focus its first bad field (or its message) so it is read out.
  window.addEventListener("htmx:afterSettle", function (e) {
    if (!redisplayed) return;
    redisplayed = false;
    var scope = e.detail.target && e.detail.target.isConnected ? e.detail.target : document;
    var bad = scope.querySelector("[aria-invalid='true']") || scope.querySelector("[role='alert']");
    if (!bad) return;
    if (!/^(INPUT|SELECT|TEXTAREA)$/.test(bad.tagName) && !bad.hasAttribute("tabindex")) bad.setAttribute("tabindex", "-1");
    bad.focus();
  });
  // A later successful request from the same form clears its old messages.
  window.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful) clear(formOf(e.target));
  });
})();
