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
  function wireAll() { document.querySelectorAll("form[data-sale-form]").forEach(wire); }
  document.addEventListener("DOMContentLoaded", wireAll);
  document.addEventListener("htmx:afterSettle", wireAll);
})();
