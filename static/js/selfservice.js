// Self-service pages: progressive enhancement only; every form works without this file.
(function () {
  "use strict";

  // Step 1 of registration: show only the section of the chosen contact method.
  function syncContact(select) {
    var form = select.form;
    form.querySelectorAll("[data-contact]").forEach(function (section) {
      section.hidden = section.getAttribute("data-contact") !== select.value;
    });
  }

  // "Copy password to clipboard".
  function setUpCopy(button) {
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        var label = button.textContent;
        button.textContent = button.getAttribute("data-copied-label");
        setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
  }

  // Forgot my password: show the field for the chosen contact method only.
  function syncResetMethod(form) {
    var checked = form.querySelector("input[type=radio][name$=method]:checked");
    form.querySelectorAll("[data-method-section]").forEach(function (section) {
      var methods = section.getAttribute("data-method-section").split(" ");
      section.hidden = !checked || methods.indexOf(checked.value) === -1;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.reset-form").forEach(function (form) {
      syncResetMethod(form);
      form.addEventListener("change", function () { syncResetMethod(form); });
    });
    document.querySelectorAll("select[data-switch=contact]").forEach(function (select) {
      syncContact(select);
      select.addEventListener("change", function () { syncContact(select); });
    });
    document.querySelectorAll(".copy-button").forEach(setUpCopy);
  });
})();
