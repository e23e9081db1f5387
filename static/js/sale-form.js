// Progressive enhancement for the "Log a sale" form: choosing a product fills Unit price with
// its list price, unless the agent has typed a price of their own. Without this script the
// server still uses the list price when Unit price is left empty. Also the split rows and their
// co-agent search boxes (below).
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
  // below up one (the server reads the rows in order) and hides the last. A row's co-agent part is
  // replaced when an agent is picked (sales/partials/_co_agent_field.html), so it is looked up anew.
  function parts(row) {
    return {
      search: row.querySelector("[data-co-agent-search]"), id: row.querySelector("[data-co-agent-id]"),
      picked: row.querySelector("[data-co-agent-picked]"), results: row.querySelector("[data-co-agent-field] [aria-live]"),
      share: row.querySelector("input[name^=co_share_]")
    };
  }
  var NOT_PICKED = "Type 2+ letters of a name or email, then pick the agent.";
  function wireSplit(box) {
    if (!box || box.dataset.wired) { return; }
    box.dataset.wired = "1";
    var rows = Array.prototype.slice.call(box.querySelectorAll("[data-split-row]"));
    var add = box.querySelector("[data-split-add]");
    function empty(row) { var p = parts(row); return !p.id.value && !p.search.value.trim() && !p.share.value.trim(); }
    function changed(row) { parts(row).id.dispatchEvent(new Event("change", { bubbles: true })); }
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
      parts(next).search.focus();
      refresh();
    });
    rows.forEach(function (row, i) {
      row.querySelector("[data-split-remove]").addEventListener("click", function () {
        var shown = rows.filter(function (r) { return !r.hidden; });
        for (var j = i; j < shown.length - 1; j++) {
          var here = parts(rows[j]), below = parts(rows[j + 1]);
          here.search.value = below.search.value;
          here.id.value = below.id.value;
          here.picked.innerHTML = below.picked.innerHTML;
          here.share.value = below.share.value;
          here.results.innerHTML = "";
        }
        var end = shown[shown.length - 1], f = parts(end);
        f.search.value = f.id.value = f.share.value = f.results.innerHTML = "";
        f.picked.textContent = NOT_PICKED;
        if (shown.length > 1) { end.hidden = true; }
        refresh();
        changed(rows[i]);
        (rows[i].hidden ? add : parts(rows[i]).search).focus();
      });
    });
    refresh();
  }
  // A co-agent search box: typing searches (htmx, on the box itself) but is not the sale changing,
  // so it does not reach the estimate's fieldset; typing again forgets an earlier pick (and that
  // does change the estimate). Arrow Down moves to the matches, Escape back to the box.
  function wireSearch(search) {
    if (search.dataset.wired) { return; }
    search.dataset.wired = "1";
    var field = search.closest("[data-co-agent-field]");
    search.addEventListener("input", function (event) {
      event.stopPropagation();
      var id = field.querySelector("[data-co-agent-id]");
      if (id.value) {
        id.value = "";
        field.querySelector("[data-co-agent-picked]").textContent = NOT_PICKED;
        id.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    search.addEventListener("change", function (event) { event.stopPropagation(); });
    field.addEventListener("keydown", function (event) {
      var picks = Array.prototype.slice.call(field.querySelectorAll(".pick"));
      var at = picks.indexOf(document.activeElement);
      if (event.key === "ArrowDown" && picks.length) {
        picks[Math.min(at + 1, picks.length - 1)].focus();
      } else if (event.key === "ArrowUp" && at >= 0) {
        (at > 0 ? picks[at - 1] : search).focus();
      } else if (event.key === "Escape" && picks.length) {
        field.querySelector("[aria-live]").innerHTML = "";
        search.focus();
      } else {
        return;
      }
      event.preventDefault();
    });
  }
  // Just picked (the row's part was swapped in): the sale changed, so the estimate refreshes, and
  // the co-agent's share is what to type next.
  function picked(field) {
    field.removeAttribute("data-just-picked");
    field.querySelector("[data-co-agent-id]").dispatchEvent(new Event("change", { bubbles: true }));
    var row = field.closest("[data-split-row]");
    var share = row && row.querySelector("input[name^=co_share_]");
    if (share) { share.focus(); }
  }
  function wireAll() {
    document.querySelectorAll("form[data-sale-form]").forEach(wire);
    document.querySelectorAll("[data-split]").forEach(wireSplit);
    document.querySelectorAll("[data-co-agent-search]").forEach(wireSearch);
    document.querySelectorAll("[data-co-agent-field][data-just-picked]").forEach(picked);
  }
  // A sale logged through the quick path (sales/partials/_sale_logged.html): the form stayed in
  // the page with a fresh key, so clear what was typed (the date stays: agents often log several
  // sales of one day), and keep the recent list in its order (date, then newest) at ten rows.
  function saleLogged() {
    var form = document.querySelector("form[data-sale-form]");
    if (form) {
      var product = form.querySelector("select[name=product_id]");
      if (product) { product.selectedIndex = 0; }
      var price = form.querySelector("input[name=unit_price]");
      if (price) { price.value = ""; price.dataset.typed = price.dataset.filled = ""; }
      var quantity = form.querySelector("input[name=quantity]");
      if (quantity) { quantity.value = "1"; }
      ["customer", "customer_id", "note"].forEach(function (name) {
        var input = form.querySelector("[name=" + name + "]");
        if (input) { input.value = ""; }
      });
      var help = form.querySelector("#customer-help");
      if (help && help.dataset.blankHint) { help.textContent = help.dataset.blankHint; }
      var results = form.querySelector("#customer-results");
      if (results) { results.innerHTML = ""; }
    }
    var none = document.getElementById("no-sales-row");  // the first sale: "No sales yet" goes
    if (none) { none.remove(); }
    var body = document.getElementById("recent-sales-body");
    if (!body || !body.rows.length) { return; }
    var added = body.rows[0], day = added.cells[0].textContent.trim();
    var next = Array.prototype.slice.call(body.rows, 1).filter(function (row) {
      return row.cells[0].textContent.trim() <= day;
    })[0];
    if (next) { body.insertBefore(added, next); } else { body.appendChild(added); }
    while (body.rows.length > 10) { body.deleteRow(body.rows.length - 1); }
  }
  document.addEventListener("sale-logged", saleLogged);
  document.addEventListener("DOMContentLoaded", wireAll);
  document.addEventListener("htmx:afterSettle", wireAll);
})();
