// Progressive enhancement for the review queue (the page works without it):
// 1. A refused decision answers 403 or 409 with the row explaining why ("already approved by
//    Sam"); htmx 2 drops 4xx bodies by default, so inside the queue those are swapped in too.
// 2. The "select every sale on this page" checkbox, shown only when this script runs.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var target = event.detail.target;
    if ((status === 403 || status === 409) && target && target.closest("[data-review-queue]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  function boxes(root) { return root.querySelectorAll("input[name=sale_ids]"); }
  function wire() {
    document.querySelectorAll("input[data-select-all]").forEach(function (all) {
      if (all.dataset.wired) { return; }
      all.dataset.wired = "1";
      var table = all.closest("table");
      if (!table || !boxes(table).length) { return; }
      all.closest("label").hidden = false;
      all.addEventListener("change", function () {
        boxes(table).forEach(function (box) { box.checked = all.checked; });
      });
      table.addEventListener("change", function (event) {
        if (event.target.name !== "sale_ids") { return; }
        var list = Array.prototype.slice.call(boxes(table));
        all.checked = list.length > 0 && list.every(function (box) { return box.checked; });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", wire);
  document.addEventListener("htmx:afterSettle", wire);
})();
