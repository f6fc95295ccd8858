/* Intake pages: drop zones and the live checklist on the new-application form, and the self-refreshing
   application page while OCR runs. Plain JavaScript served from our origin (the CSP forbids inline scripts). */
(function () {
  "use strict";

  function forEach(list, fn) { Array.prototype.forEach.call(list, fn); }

  // With JavaScript the native file inputs give way to Arabic buttons and drop zones (see sijill.css).
  document.documentElement.classList.add("js");

  function sizeText(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function filesOf(zone) {
    var files = [];
    forEach(zone.querySelectorAll("input[type=file]"), function (input) {
      forEach(input.files || [], function (file) { files.push(file); });
    });
    return files;
  }

  // The service picker reloads the page for the chosen service (the button does the same without JavaScript).
  forEach(document.querySelectorAll("select[data-autosubmit]"), function (select) {
    select.addEventListener("change", function () {
      if (select.value) { select.form.submit(); }
    });
  });

  function setupIntake(form) {
    var zones = form.querySelectorAll(".dropzone");
    var checklist = document.getElementById("checklist");
    var note = document.getElementById("missing-note");
    var reason = document.getElementById("incomplete_reason");

    function refresh() {
      var missing = 0;
      forEach(zones, function (zone) {
        var files = filesOf(zone);
        var list = zone.querySelector(".chosen");
        list.textContent = "";
        files.forEach(function (file) {
          var item = document.createElement("li");
          var name = document.createElement("bdi");
          name.textContent = file.name;
          var size = document.createElement("bdi");
          size.dir = "ltr";
          size.textContent = sizeText(file.size);
          item.appendChild(name);
          item.appendChild(document.createTextNode(" · "));
          item.appendChild(size);
          list.appendChild(item);
        });
        // files kept from a refused attempt count as handed in while ticked
        var count = files.length + zone.querySelectorAll(".kept-file:checked").length;
        zone.classList.toggle("has-files", count > 0);
        var row = checklist && checklist.querySelector('li[data-requirement="' + zone.dataset.requirement + '"]');
        if (row) {
          row.classList.toggle("provided", count > 0);
          row.classList.toggle("missing", count === 0);
          row.querySelector(".state").textContent = count
            ? checklist.dataset.labelProvided + " (" + count + ")"
            : checklist.dataset.labelMissing;
          if (!count) { missing += 1; }
        }
      });
      if (note) { note.hidden = missing === 0; }
      if (reason) { reason.setAttribute("aria-required", missing > 0 ? "true" : "false"); }
    }

    forEach(form.querySelectorAll(".kept-file"), function (box) { box.addEventListener("change", refresh); });

    forEach(zones, function (zone) {
      var main = zone.querySelector("input[type=file]");
      forEach(zone.querySelectorAll("input[type=file]"), function (input) {
        input.addEventListener("change", refresh);
      });
      ["dragenter", "dragover"].forEach(function (name) {
        zone.addEventListener(name, function (event) {
          event.preventDefault();
          if (event.dataTransfer) { event.dataTransfer.dropEffect = "copy"; }
          zone.classList.add("dragging");
        });
      });
      ["dragleave", "dragend", "drop"].forEach(function (name) {
        zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        event.stopPropagation();
        var dropped = event.dataTransfer && event.dataTransfer.files;
        if (!dropped || !dropped.length || typeof DataTransfer === "undefined") { return; }
        var merged = new DataTransfer();
        forEach(main.files || [], function (file) { merged.items.add(file); });
        forEach(dropped, function (file) { merged.items.add(file); });
        main.files = merged.files;
        refresh();
      });
    });

    // A file dropped beside a zone must not make the browser leave the half-filled form to open it.
    ["dragover", "drop"].forEach(function (name) {
      window.addEventListener(name, function (event) { event.preventDefault(); });
    });

    // One click, one application: the clerk cannot register the same citizen twice by double-clicking.
    form.addEventListener("submit", function () {
      forEach(form.querySelectorAll("button[type=submit]"), function (button) {
        if (button.dataset.busyLabel) { button.textContent = button.dataset.busyLabel; }
        button.disabled = true;
      });
    });

    if (!form.dataset.failed) { refresh(); }
  }

  function setupPolling(section) {
    if (section.dataset.complete === "true" || !window.fetch) { return; }
    var delay = 4000;
    function tick() {
      fetch(section.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data && data.version !== section.dataset.version) { window.location.reload(); return; }
          if (data && data.ocr && data.ocr.complete) { return; }
          window.setTimeout(tick, delay);
        })
        .catch(function () { window.setTimeout(tick, delay * 3); });
    }
    window.setTimeout(tick, delay);
  }

  var form = document.getElementById("intake-form");
  if (form) { setupIntake(form); }
  var addForm = document.getElementById("add-documents-form");
  if (addForm) { setupIntake(addForm); }
  var progress = document.getElementById("ocr-progress");
  if (progress) { setupPolling(progress); }
}());
