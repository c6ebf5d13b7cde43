// Console navigation (partials/console_nav.html): the narrow-screen menu button and the desktop "More" disclosure.
// Both are <button aria-expanded aria-controls>; Escape closes and returns focus to the button, a click or focus
// outside closes. Without this script the CSS shows every entry as one wrapping list, so nothing becomes unreachable.
// Listeners sit on document because admin pages swap <body> with hx-boost; the .js-nav marker lives on <html>.
(function () {
  "use strict";
  var NARROW = window.matchMedia("(max-width: 1160px)"); // the same width as the @media rule in console.css
  document.documentElement.classList.add("js-nav");

  function toggles() {
    return document.querySelectorAll("[data-nav] .nav-toggle, [data-nav] .nav-more-toggle");
  }
  function isOpen(btn) {
    return btn.getAttribute("aria-expanded") === "true";
  }
  function firstLink(btn) {
    var list = document.getElementById(btn.getAttribute("aria-controls"));
    return list ? list.querySelector("a[aria-current]") || list.querySelector("a, button") : null;
  }
  function setOpen(btn, open, focusInside) {
    btn.setAttribute("aria-expanded", open ? "true" : "false");
    if (open && focusInside) {
      var link = firstLink(btn);
      if (link) link.focus();
    }
  }
  function closeAll(except) {
    Array.prototype.forEach.call(toggles(), function (btn) {
      if (btn !== except && isOpen(btn)) setOpen(btn, false);
    });
  }
  // The toggle whose open list holds (or is) this element, innermost first.
  function ownerOf(el) {
    var open = Array.prototype.filter.call(toggles(), isOpen).reverse();
    for (var i = 0; i < open.length; i++) {
      var list = document.getElementById(open[i].getAttribute("aria-controls"));
      if (open[i] === el || (list && list.contains(el))) return open[i];
    }
    return null;
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-nav] .nav-toggle, [data-nav] .nav-more-toggle") : null;
    if (btn) {
      var open = !isOpen(btn);
      // Opening the menu closes the other disclosure, except the one it contains.
      if (open) closeAll(btn.classList.contains("nav-more-toggle") ? btn.closest("[data-nav]").querySelector(".nav-toggle") : null);
      // A keyboard activation (detail 0) moves focus into the list; a pointer click leaves it on the button.
      setOpen(btn, open, open && e.detail === 0);
      return;
    }
    if (!e.target.closest || !e.target.closest("[data-nav]")) closeAll(null);
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var btn = ownerOf(document.activeElement) || Array.prototype.filter.call(toggles(), isOpen).pop();
    if (!btn) return;
    e.preventDefault();
    setOpen(btn, false);
    btn.focus();
  });

  // Tabbing out of the navigation closes what it left open.
  document.addEventListener("focusout", function (e) {
    var nav = e.target.closest ? e.target.closest("[data-nav]") : null;
    if (nav && e.relatedTarget && !nav.contains(e.relatedTarget)) closeAll(null);
  });

  // The page's tabs scroll sideways on phones: bring the current one into view (after every boosted body swap too).
  function showCurrentTab() {
    var sub = document.querySelector(".subnav");
    var cur = sub && sub.querySelector("[aria-current]");
    if (cur && sub.scrollWidth > sub.clientWidth) sub.scrollLeft = Math.max(0, cur.offsetLeft - sub.offsetLeft - 16);
  }
  document.addEventListener("DOMContentLoaded", showCurrentTab);
  document.addEventListener("htmx:afterSettle", showCurrentTab);

  // Crossing the breakpoint switches between the two layouts; start both closed.
  var reset = function () { closeAll(null); };
  if (NARROW.addEventListener) NARROW.addEventListener("change", reset);
  else if (NARROW.addListener) NARROW.addListener(reset);
})();
