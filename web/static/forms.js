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
})();
