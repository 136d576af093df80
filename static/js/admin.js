// The admin pages' enhancements: row selection, "select all that match", the quick-step
// dialog. Without this file every admin page still lists, filters and works through plain
// forms; with it, htmx swaps fragments in place. No inline script anywhere (CSP).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var usersChanged = false;
  // The control that opened the dialog gets focus back when the dialog closes.
  var dialogOpener = null;

  function byId(id) { return document.getElementById(id); }

  // Controls a keyboard user can reach with Tab: enabled, shown, not taken out of the order.
  function isTabbable(element) {
    return element.tabIndex >= 0 && !element.disabled && element.getClientRects().length > 0;
  }

  function tabbables(root) {
    if (!root) { return []; }
    var found = root.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, [tabindex]");
    return Array.prototype.slice.call(found).filter(isTabbable);
  }

  // The templates say where the focus goes; this file holds no list of the page's controls.
  // - data-focus-key names a control so that its new copy is found once a swap has replaced
  //   it (a control without one is found by its id);
  // - data-focus-scope names a part of the page whose first control takes the focus when the
  //   control that had it is gone (the last page has no "Next", Enable becomes Enforce...);
  // - data-focus-return, on the dialog, lists the scopes the focus goes back to, in order,
  //   when the control that opened the dialog is gone;
  // - data-focus-next, on a control that hides itself once used, names (by its key) the
  //   control that takes the focus on.
  function byAttribute(name, value) {
    return document.querySelector("[" + name + '="' + CSS.escape(value) + '"]');
  }

  function focusKey(element) {
    var key = element.getAttribute("data-focus-key");
    if (key) { return '[data-focus-key="' + CSS.escape(key) + '"]'; }
    if (element.id) { return "#" + CSS.escape(element.id); }
    return null;
  }

  // The names of the scopes around an element, innermost first.
  function scopesOf(element) {
    var names = [];
    for (var part = element.closest("[data-focus-scope]"); part;
      part = part.parentElement && part.parentElement.closest("[data-focus-scope]")) {
      names.push(part.getAttribute("data-focus-scope"));
    }
    return names;
  }

  function focusNext(control) {
    var key = control.getAttribute("data-focus-next");
    var next = key ? byAttribute("data-focus-key", key) : null;
    if (next) { next.focus(); }
  }

  function focusLost() {
    var active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }

  function focusRestore(place) {
    var same = place.key ? document.querySelector(place.key) : null;
    if (same && isTabbable(same)) { same.focus(); return; }
    for (var i = 0; i < place.scopes.length; i++) {
      var controls = tabbables(byAttribute("data-focus-scope", place.scopes[i]));
      if (controls.length) { controls[0].focus(); return; }
    }
  }

  function placeOf(element) {
    return { key: focusKey(element), scopes: scopesOf(element) };
  }

  function rowBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll('#results input[name="u"]'));
  }

  function notifySelection() {
    var form = byId("selection");
    if (form && window.htmx) { window.htmx.trigger(form, "selection-changed"); }
  }

  function setAllMatching(on) {
    var all = byId("all-matching");
    var banner = byId("select-all-banner");
    if (all) { all.value = on ? "1" : "0"; }
    if (banner) { banner.classList.toggle("all-selected", on); }
  }

  // Header checkbox, row highlight and the "select all that match" banner follow the rows.
  function syncSelection() {
    var boxes = rowBoxes();
    var checked = boxes.filter(function (box) { return box.checked; }).length;
    var pageSelected = boxes.length > 0 && checked === boxes.length;
    var header = byId("select-page");
    if (header) {
      header.checked = pageSelected;
      header.indeterminate = checked > 0 && !pageSelected;
    }
    boxes.forEach(function (box) {
      var row = box.closest("tr");
      if (row) { row.classList.toggle("selected", box.checked); }
    });
    var banner = byId("select-all-banner");
    if (banner) {
      if (!pageSelected) { setAllMatching(false); }
      banner.hidden = !pageSelected;
      var link = byId("select-all-matching");
      if (pageSelected && link && !link.dataset.counted && window.htmx) {
        link.dataset.counted = "1";
        window.htmx.trigger(link, "mfa-page-selected");
      }
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement) || !target.closest("#results")) { return; }
    if (target.id === "select-page") {
      rowBoxes().forEach(function (box) { box.checked = target.checked; });
    } else if (target.name !== "u") {
      return;
    }
    if (!target.checked) { setAllMatching(false); }
    syncSelection();
    notifySelection();
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    var closer = target.closest("[data-close-dialog]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog) { dialog.close(); }
      return;
    }
    // Each banner button hides itself: the focus goes on to what the banner shows next.
    var selectAll = target.closest("#select-all-matching");
    if (selectAll) {
      setAllMatching(true);
      notifySelection();
      focusNext(selectAll);
      return;
    }
    var clear = target.closest("#clear-selection");
    if (clear) {
      rowBoxes().forEach(function (box) { box.checked = false; });
      setAllMatching(false);
      syncSelection();
      notifySelection();
      focusNext(clear);
      return;
    }
    // A click anywhere on a row (but its link) ticks it, as on the original page.
    var cell = target.closest("#results tbody td");
    if (cell && !target.closest("a, input, button, label")) {
      var box = cell.parentElement.querySelector('input[name="u"]');
      if (box) {
        box.checked = !box.checked;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail && event.detail.target;
    var dialog = byId("modal");
    if (target && target.id === "modal-body" && dialog && !dialog.open) {
      dialogOpener = event.detail.elt || document.activeElement;
    }
  });

  // A swap must not drop the focus on <body> (a keyboard user would start again from the
  // top of the page): the new copy of the control gets it, else the nearest part still there.
  var swappedFocus = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    var active = document.activeElement;
    swappedFocus = target && active && active !== document.body && target.contains(active)
      ? placeOf(active) : null;
  });

  document.addEventListener("htmx:afterSwap", function () {
    var place = swappedFocus;
    swappedFocus = null;
    if (place && focusLost()) { focusRestore(place); }
  });

  // The open dialog keeps Tab and Shift+Tab inside itself, wrapping at either end, as the
  // WAI-ARIA dialog pattern asks; left to itself the browser lets focus out to its toolbar.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Tab" || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var dialog = byId("modal");
    if (!dialog || !dialog.open) { return; }
    var controls = tabbables(dialog);
    var active = document.activeElement;
    var first = controls[0];
    var last = controls[controls.length - 1];
    if (!controls.length) {
      event.preventDefault();
    } else if (!dialog.contains(active) || active === dialog) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    } else if (event.shiftKey && active === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) { return; }
    if (target.id === "modal-body") {
      var dialog = byId("modal");
      if (dialog && !dialog.open) { dialog.showModal(); }
      var focus = target.querySelector("[data-close-dialog].primary, input[type=checkbox], button.primary, button");
      if (focus) { focus.focus(); }
    }
  });

  // A list whose names open a pane (Active users): the name whose pane is open is marked
  // (aria-current), and the focus moves to the pane's heading so that Tab goes on to its
  // links instead of through the rest of the list.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    var config = event.detail && event.detail.requestConfig;
    var link = config && config.elt;
    if (!target || !target.hasAttribute("data-pane") || !(link instanceof Element)) { return; }
    if (!link.hasAttribute("data-pane-link")) { return; }
    document.querySelectorAll("[data-pane-link][aria-current]").forEach(function (other) {
      other.removeAttribute("aria-current");
    });
    link.setAttribute("aria-current", "true");
    var heading = target.querySelector("[tabindex='-1']");
    if (heading) { heading.focus(); }
  });

  document.addEventListener("htmx:afterSettle", function () { syncSelection(); });

  // A job's progress is polled every second; the status region says what changed only when
  // the job's own short summary changes (each tenth of the way, then the outcome).
  var jobAnnounced = null;

  function jobAnnounce(speak) {
    var job = document.querySelector(".job[data-announce]");
    var region = byId("job-status");
    if (!job || !region) { return; }
    var text = job.getAttribute("data-announce");
    if (text === jobAnnounced) { return; }
    jobAnnounced = text;
    if (speak) { region.textContent = text; }
  }

  document.addEventListener("htmx:afterSettle", function () { jobAnnounce(true); });

  document.addEventListener("mfa-users-changed", function () { usersChanged = true; });

  // Where the focus goes when the dialog closes: back to the control that opened it, or,
  // when a change has redrawn the pane, to the same quick step or the first control still
  // in the scopes the dialog's data-focus-return lists.
  var RETURN_KEY = "mfa-portal-dialog-opener";

  function returnScopes(dialog) {
    return (dialog.getAttribute("data-focus-return") || "").split(/\s+/).filter(Boolean);
  }

  function storage(use) {
    try { return use(window.sessionStorage); } catch (blocked) { return undefined; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    syncSelection();
    // The page as loaded is read in full anyway: only later changes are announced.
    jobAnnounce(false);
    var dialog = byId("modal");
    if (!dialog) { return; }
    // A page that reloads after a change (user detail) takes the focus back after the
    // reload. Only the quick step's address is kept, never directory data.
    var stored = storage(function (store) {
      var value = store.getItem(RETURN_KEY);
      store.removeItem(RETURN_KEY);
      return value;
    });
    if (stored !== null && stored !== undefined) {
      focusRestore({ key: stored || null, scopes: returnScopes(dialog) });
    }
    dialog.addEventListener("close", function () {
      var body = byId("modal-body");
      if (body) { body.innerHTML = ""; }
      var status = byId("job-status");
      if (status) { status.textContent = ""; }
      jobAnnounced = null;
      var opener = dialogOpener;
      dialogOpener = null;
      var key = opener ? focusKey(opener) : null;
      if (usersChanged && document.querySelector("[data-reload-on-change]")) {
        usersChanged = false;
        storage(function (store) { store.setItem(RETURN_KEY, key || ""); });
        window.location.reload();
        return;
      }
      usersChanged = false;
      if (opener && opener.isConnected && isTabbable(opener)) {
        opener.focus();
      } else {
        focusRestore({ key: key, scopes: returnScopes(dialog) });
      }
    });
  });
})();
