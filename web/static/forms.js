// Every form page: move the focus to the error summary when the page comes back with errors (GOV.UK pattern), so a
// keyboard or screen-reader user starts at the list of what to fix; its links then take them to each field.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) { return; }
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (field && typeof field.focus === "function") {
        event.preventDefault();
        field.scrollIntoView({ block: "center" });
        field.focus();
      }
    });
  }

  // A choice between ways of doing one thing (the signing method): only the chosen way's fields are shown. Without
  // JavaScript every way stays visible under its own radio button, and the server reads only the chosen one.
  var choices = document.querySelectorAll("[data-method-choice]");
  function showChosen() {
    choices.forEach(function (radio) {
      var body = document.querySelector("[data-method-body='" + radio.value + "']");
      if (body) { body.hidden = !radio.checked; }
    });
  }
  choices.forEach(function (radio) { radio.addEventListener("change", showChosen); });
  if (choices.length) { showChosen(); }

  // A file input behind a label styled as a button (no browser's English "Choose File"); the chosen name is shown.
  document.querySelectorAll("[data-file-pick]").forEach(function (pick) {
    var input = pick.querySelector("input[type=file]");
    var name = pick.querySelector("[data-file-name]");
    pick.classList.add("enhanced");
    input.addEventListener("change", function () {
      var names = Array.prototype.map.call(input.files, function (file) { return file.name; });
      name.textContent = names.length ? names.join("، ") : name.getAttribute("data-empty");
    });
  });
})();
