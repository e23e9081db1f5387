// Progressive enhancement for the "Log a sale" form: choosing a product fills Unit price with
// its list price, unless the agent has typed a price of their own. Without this script the
// server still uses the list price when Unit price is left empty.
(function () {
  "use strict";
  function wire(form) {
    if (!form || form.dataset.wired) { return; }
    form.dataset.wired = "1";
    var product = form.querySelector("select[name=product_id]");
    var price = form.querySelector("input[name=unit_price]");
    if (!product || !price) { return; }
    // A price is the agent's own only if it differs from the list price this script filled in:
    // the input event dispatched below reaches this listener too, and must not count as typing
    // (else switching to another product would keep the first product's price).
    price.addEventListener("input", function () {
      price.dataset.typed = price.value && price.value !== price.dataset.filled ? "1" : "";
    });
    product.addEventListener("change", function () {
      var option = product.options[product.selectedIndex];
      var listPrice = option ? option.getAttribute("data-list-price") : null;
      if (listPrice && !price.dataset.typed) {
        price.value = price.dataset.filled = listPrice;
        price.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
  }
  // "Split with co-agents": every row is in the page (so the form works without this script);
  // here the empty rows after the first hide behind "Add a co-agent", and "Remove" moves the rows
  // below up one (the server reads the rows in order) and hides the last.
  function wireSplit(box) {
    if (!box || box.dataset.wired) { return; }
    box.dataset.wired = "1";
    var rows = Array.prototype.slice.call(box.querySelectorAll("[data-split-row]"));
    var add = box.querySelector("[data-split-add]");
    function inputs(row) { return [row.querySelector("select"), row.querySelector("input")]; }
    function empty(row) { var f = inputs(row); return !f[0].value && !f[1].value.trim(); }
    function changed(row) { inputs(row)[0].dispatchEvent(new Event("change", { bubbles: true })); }
    function refresh() {
      var hidden = rows.filter(function (row) { return row.hidden; });
      add.hidden = hidden.length === 0;
      rows.forEach(function (row) { row.querySelector("[data-split-remove]").hidden = false; });
    }
    var last = 0;
    rows.forEach(function (row, i) {
      if (!empty(row) || row.querySelector(".field-error")) { last = i; }
    });
    rows.forEach(function (row, i) { row.hidden = i > last; });
    add.addEventListener("click", function () {
      var next = rows.filter(function (row) { return row.hidden; })[0];
      if (!next) { return; }
      next.hidden = false;
      inputs(next)[0].focus();
      refresh();
    });
    rows.forEach(function (row, i) {
      row.querySelector("[data-split-remove]").addEventListener("click", function () {
        var shown = rows.filter(function (r) { return !r.hidden; });
        for (var j = i; j < shown.length - 1; j++) {
          var here = inputs(rows[j]), below = inputs(rows[j + 1]);
          here[0].value = below[0].value;
          here[1].value = below[1].value;
        }
        var end = shown[shown.length - 1], f = inputs(end);
        f[0].value = "";
        f[1].value = "";
        if (shown.length > 1) { end.hidden = true; }
        refresh();
        changed(rows[i]);
        (rows[i].hidden ? add : inputs(rows[i])[0]).focus();
      });
    });
    refresh();
  }
  function wireAll() {
    document.querySelectorAll("form[data-sale-form]").forEach(wire);
    document.querySelectorAll("[data-split]").forEach(wireSplit);
  }
  document.addEventListener("DOMContentLoaded", wireAll);
  document.addEventListener("htmx:afterSettle", wireAll);
})();
