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
    if (target.closest("#select-all-matching")) {
      setAllMatching(true);
      notifySelection();
      return;
    }
    if (target.closest("#clear-selection")) {
      rowBoxes().forEach(function (box) { box.checked = false; });
      setAllMatching(false);
      syncSelection();
      notifySelection();
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

  document.addEventListener("htmx:afterSettle", function () { syncSelection(); });

  document.addEventListener("mfa-users-changed", function () { usersChanged = true; });

  document.addEventListener("DOMContentLoaded", function () {
    syncSelection();
    var dialog = byId("modal");
    if (dialog) {
      dialog.addEventListener("close", function () {
        var body = byId("modal-body");
        if (body) { body.innerHTML = ""; }
        if (usersChanged && document.querySelector("[data-reload-on-change]")) {
          window.location.reload();
        }
        usersChanged = false;
        var opener = dialogOpener;
        dialogOpener = null;
        if (opener && opener.isConnected && typeof opener.focus === "function") { opener.focus(); }
      });
    }
  });
})();
