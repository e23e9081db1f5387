// "All agents" on the Send statements form: ticks every agent, and unticks itself when one is
// unticked. The server treats a ticked "all" as every agent, so the form works without this.
(function () {
  "use strict";
  function wire() {
    document.querySelectorAll("input[data-select-all]").forEach(function (all) {
      var form = all.form;
      var name = all.getAttribute("data-select-all");
      function boxes() { return form.querySelectorAll("input[name=" + name + "]"); }
      all.addEventListener("change", function () {
        boxes().forEach(function (box) { box.checked = all.checked; });
      });
      form.addEventListener("change", function (event) {
        if (event.target.name !== name) { return; }
        var list = Array.prototype.slice.call(boxes());
        all.checked = list.length > 0 && list.every(function (box) { return box.checked; });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", wire);
})();
