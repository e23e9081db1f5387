"""Agent portal pages: dashboard, log a sale (HTMX), live estimate, my sales, sale detail."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, make_response, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from wtforms import SelectChoice

from webapp import clock
from webapp.auth import access
from webapp.auth.access import visible_sale
from webapp.auth.decorators import agent_required, signed_in_required
from webapp.catalog import services as catalog
from webapp.catalog.models import Customer
from webapp.commissions import attainment, ledger
from webapp.errors import ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import db_id_or_none, parse_iso_date
from webapp.money import MoneyError, parse_money, to_cents, units_to_rate
from webapp.sales import bp, portal, quick
from webapp.sales import services as sales
from webapp.sales.forms import SaleFilterForm, SaleForm, new_form_key, verify_form_key
from webapp.sales.models import MAX_CO_AGENTS, SaleStatus
from webapp.sales.sale_page import render_sale_page
from webapp.spiffs import services as spiff_services
from webapp.web import (FLASH, REFUSED_FORM, SALE_LOGGED, SALES_CHANGED, check, finish, is_htmx, requested_page,
                        run_service, submit, with_trigger)


def _sale_form(data=None, **kwargs) -> SaleForm:
    """A sale form for the signed-in agent, with its products and a fresh signed key."""
    form = SaleForm(formdata=data, **kwargs)
    form.set_products(catalog.sellable_products(current_user.id))
    _show_co_agents(form)
    if not form.idempotency_key.data:
        form.idempotency_key.data = new_form_key()
    if data is None and not form.sold_on.data:
        # Only a fresh form gets today: a posted empty Date is an error, not a silent "today".
        form.sold_on.data = clock.today().isoformat()
    return form


def _show_co_agents(form: SaleForm) -> None:
    """Name the co-agents the form's rows hold (one query of at most four ids; none for a fresh form)."""
    ids = [agent.data for agent, _ in form.co_agent_rows if agent.data is not None]
    form.show_co_agents(access.co_agents(ids) if ids else [])


def _dashboard_context(form: SaleForm) -> dict:
    """Everything the dashboard template needs."""
    recent = portal.recent_sales(current_user.id)
    return {"form": form, "totals": portal.agent_totals(current_user.id), "recent": recent,
            "chart": portal.commission_chart(current_user.id), "status": SaleStatus,
            "spiffs": spiff_services.dashboard_spiffs(current_user, clock.today()),
            "attainment": attainment.agent_attainment(current_user.id)}


@bp.route("/dashboard")
@agent_required
def dashboard():
    """The agent's home: totals panel, log-a-sale form, recent sales, commission chart."""
    return render_template("sales/dashboard.html", **_dashboard_context(_sale_form()))


@bp.route("/dashboard/totals")
@agent_required
def totals():
    """The totals panel alone (htmx refreshes it after each sale and every 30 s)."""
    return render_template("sales/partials/_totals.html", totals=portal.agent_totals(current_user.id))


@bp.route("/dashboard/attainment")
@agent_required
def attainment_panel():
    """The attainment panel alone (htmx refreshes it with the totals); empty when not on an attainment plan."""
    return render_template("sales/partials/_attainment_panel.html",
                           attainment=attainment.agent_attainment(current_user.id))


def _customer_choice(form: SaleForm):
    """The existing customer the form names (id, or an unambiguous exact name), else None."""
    if form.customer_id_value is not None:
        return form.customer_id_value, None
    name = (form.customer.data or "").strip()
    if not name:
        return None, None
    matches = list(db.session.scalars(select(Customer).where(func.lower(Customer.name) == name.lower()).limit(2)))
    if len(matches) > 1:
        raise ServiceError(f"Several customers are called {name}; pick one from the list.", "customer")
    return (matches[0].id, None) if matches else (None, name)


def _sale_input(form: SaleForm) -> sales.SaleInput:
    """The typed form as the service's input (the unit price defaults to the list price)."""
    customer_id, new_name = _customer_choice(form)
    unit_price = form.unit_price.decimal
    product = form.products.get(form.product_id.data)
    if unit_price is None and product is not None:
        unit_price = Decimal(product.list_price_cents) / 100
    return sales.SaleInput(
        product_id=form.product_id.data, quantity=form.quantity_value, unit_price=unit_price,
        sold_on=parse_iso_date(form.sold_on.data), customer_id=customer_id, new_customer_name=new_name,
        note=form.note.data, co_agents=form.co_agents_value, share=form.share.data)


def _quick_create():
    """The common case of logging a sale (quick.record_sale) answered with the new row, the totals
    panel and a fresh key; None when the full path must run (nothing was written)."""
    form = SaleForm(formdata=request.form)  # no product list: the statement checks the product
    key = verify_form_key(request.form.get("idempotency_key"))
    if key is None or not form.validate():
        return None
    data = sales.SaleInput(
        product_id=form.product_id.data, quantity=form.quantity_value, unit_price=form.unit_price.decimal,
        sold_on=parse_iso_date(form.sold_on.data), customer_id=form.customer_id_value, note=form.note.data,
        co_agents=form.co_agents_value, share=form.share.data)
    # Committed only when the statement wrote the sale; otherwise nothing was written and the full
    # path runs in a fresh transaction.
    outcome = run_service(lambda: quick.record_sale(current_user, data, idempotency_key=key),
                          commit=lambda written: written is not None)
    sale = outcome.value if outcome.ok else None
    if sale is None:
        return None
    totals, month = portal.totals_and_month(sale.agent_id)
    estimate = portal.pending_estimate(month, sale.id)
    if estimate is None:  # a sale of an earlier month: its own month's lines
        estimate = to_cents(ledger.pending_estimates(sale.agent_id, [sale]).get(sale.id, 0))
    fresh = SaleForm(formdata=None)
    fresh.idempotency_key.data = new_form_key()
    response = make_response(render_template(
        "sales/partials/_sale_logged.html", sale=sale, totals=totals, estimates={sale.id: estimate}, form=fresh), 201)
    # The form stays in the page (sale-form.js clears it); the other panels refresh themselves.
    response.headers["HX-Reswap"] = "none"
    response.headers["HX-Trigger-After-Settle"] = SALE_LOGGED
    return response


@bp.route("/sales", methods=["POST"])
@agent_required
def create():
    """Record a sale: htmx gets the new row and the totals panel (the common case, see _quick_create)
    or the new rows, a fresh form and a totals refresh; others a redirect."""
    if is_htmx():
        reply = _quick_create()
        if reply is not None:
            return reply
    form = _sale_form(request.form)
    # The key as posted: _sale_form fills a missing one in for the re-rendered form, and a sale
    # made under a key the client never had would not be idempotent.
    key = verify_form_key(request.form.get("idempotency_key"))
    if key is None:
        # A fresh key, so the agent can send the re-rendered form again (once).
        form.idempotency_key.data = new_form_key()
        form.form_errors.append("This form has expired or was altered; check the sale and submit it again.")
        outcome = REFUSED_FORM
    else:
        outcome = submit(form, lambda: sales.create_sale(current_user, _sale_input(form), idempotency_key=key))
    if not outcome.ok:
        if is_htmx():
            return render_template("sales/partials/_sale_form.html", form=form), outcome.status
        return render_template("sales/dashboard.html", **_dashboard_context(form)), outcome.status
    sale, created = outcome.value
    status = 201 if created else 200
    if not is_htmx():
        return finish(url_for("sales.dashboard"), f"Sale of {sale.product.name} recorded.")
    fresh = _sale_form(None)
    fresh.sold_on.data = form.sold_on.data  # agents often log several sales of one day
    # The whole recent-sales body is re-sent: it stays sorted and at ten rows whatever date
    # the new sale has, and there is no "No sales yet" row to delete separately.
    return with_trigger(make_response(render_template(
        "sales/partials/_sale_created.html", form=fresh, sale=sale, created=created,
        recent=portal.recent_sales(current_user.id)), status), SALES_CHANGED)


@bp.route("/sales/estimate")
@agent_required
def estimate():
    """"This sale would earn X" for the sale being typed (read-only, so a GET)."""
    args = request.args
    product_id = db_id_or_none(args.get("product_id", ""))
    quantity = args.get("quantity", "").strip()
    sold_on = parse_iso_date(args.get("sold_on")) or clock.today()
    amount_cents, product, message = None, None, None
    try:
        product = catalog.sellable_product(current_user.id, product_id) if product_id else None
        unit_text = args.get("unit_price", "").strip()
        unit_price = parse_money(unit_text) if unit_text else (
            Decimal(product.list_price_cents) / 100 if product else None)
        if product and unit_price is not None and quantity.isdigit() and 1 <= int(quantity) <= sales.MAX_QUANTITY:
            amount_cents = int(quantity) * to_cents(unit_price)
    except (ServiceError, MoneyError) as exc:
        message = exc.message if isinstance(exc, ServiceError) else str(exc)
    split = SaleForm(formdata=args)
    holders = check(lambda: sales.checked_holders(current_user, sales.SaleInput(
        None, None, None, None, co_agents=split.co_agents_value, share=split.share.data)), unplaced=None)
    figure, spiff_cents, per_holder, no_plan = None, 0, [], False
    if amount_cents is not None and sold_on <= clock.today() and holders.ok:
        # Quantity and team matter to SPIFFs, so an unsplit sale is estimated the same way (one holder).
        per_holder = sales.holder_estimates(holders.value, product, amount_cents, int(quantity), sold_on)
        if len(per_holder) == 1:
            (alone,), per_holder = per_holder, []
            figure, spiff_cents, no_plan = alone.commission_cents, alone.spiff_cents, alone.no_plan
    return render_template("sales/partials/_estimate.html", figure=figure, amount_cents=amount_cents,
                           message=message, holders=per_holder, spiff_cents=spiff_cents,
                           split_error=None if holders.ok else holders.error.message, no_plan=no_plan)


@bp.route("/customers/search")
@agent_required
def customer_search():
    """Customers matching what is typed, to pick one; typing again clears an earlier pick."""
    text = (request.args.get("customer") or "").strip()
    return render_template("sales/partials/_customer_results.html", text=text,
                           customers=catalog.search_customers(text) if len(text) >= 2 else [])


@bp.route("/customers/pick/<int:customer_id>")
@agent_required
def customer_pick(customer_id: int):
    """Fill the customer field with a chosen existing customer."""
    customer = get_or_404(Customer, customer_id)
    form = SaleForm(formdata=None)
    form.customer.data, form.customer_id.data = customer.name, str(customer.id)
    return render_template("sales/partials/_customer_field.html", form=form, picked=customer)


def _co_agent_row() -> int:
    """The co-agent row (1-4) a search or pick is for (?row=, default 1); another number is a 404."""
    row = request.args.get("row", "1")
    if row not in {str(n) for n in range(1, MAX_CO_AGENTS + 1)}:
        abort(404)
    return int(row)


@bp.route("/co-agents/search")
@agent_required
def co_agent_search():
    """Up to ten active agents matching what is typed in a co-agent row (never the agent themself)."""
    row = _co_agent_row()
    text = (request.args.get(f"co_agent_{row}_search") or "").strip()
    agents = access.co_agent_matches(text, exclude_id=current_user.id) if len(text) >= 2 else []
    return render_template("sales/partials/_co_agent_results.html", row=row, text=text, agents=agents)


@bp.route("/co-agents/pick/<int:agent_id>")
@agent_required
def co_agent_pick(agent_id: int):
    """A co-agent row filled with a picked active agent (the hidden co_agent_N holds the id)."""
    row = _co_agent_row()
    agent = access.co_agent(agent_id)
    if agent is None or agent.id == current_user.id:
        abort(404)
    form = SaleForm(formdata=None)
    form[f"co_agent_{row}"].data = agent.id
    form.show_co_agents([agent])
    return render_template("sales/partials/_co_agent_field.html", form=form, row=row, just_picked=True)


def _filters(form: SaleFilterForm) -> portal.SaleFilters:
    """URL arguments as list filters; junk values are ignored rather than failing the page."""
    status = form.status.data if form.status.data in set(SaleStatus) else None
    return portal.SaleFilters(
        start=parse_iso_date(form.start.data), end=parse_iso_date(form.end.data), status=status,
        product_id=form.product_id.data, customer=(form.customer.data or "").strip() or None,
        sort=form.sort.data if form.sort.data in portal.SORTS else "date",
        direction="asc" if form.direction.data == "asc" else "desc")


@bp.route("/sales")
@agent_required
def my_sales():
    """The agent's sales with filters, sorting and pages (the URL carries the filters)."""
    form = SaleFilterForm(request.args)
    form.product_id.choices = _product_filter_choices()
    filters = _filters(form)
    page = portal.list_sales(current_user.id, filters, requested_page())
    context = {"form": form, "page": page, "filters": filters, "args": request.args.to_dict()}
    if is_htmx("sales-table"):
        return render_template("sales/partials/_sales_table.html", **context)
    return render_template("sales/my_sales.html", **context)


def _product_filter_choices():
    """Product filter choices: the products the agent may sell."""
    return [SelectChoice("", "Any product")] + [
        SelectChoice(p.id, p.name) for p in catalog.sellable_products(current_user.id)]


@bp.route("/sales/<int:sale_id>")
@signed_in_required
def detail(sale_id: int):
    """Everything about one sale: figures, ledger entries, audit history (others' sales: 404)."""
    return render_sale_page(visible_sale(current_user, sale_id))


@bp.route("/sales/<int:sale_id>/edit", methods=["GET", "POST"])
@agent_required
def edit(sale_id: int):
    """Edit a pending sale of one's own (a decided one answers 409 with the reason)."""
    sale = visible_sale(current_user, sale_id)
    # The service's own rule (it is checked again, under the agent lock, when saving).
    editable = check(lambda: sales.check_editable(current_user, sale), unplaced=FLASH)
    if not editable.ok:
        return render_sale_page(sale, status=editable.status)
    if request.method == "GET":
        form = _sale_form(None)
        form.product_id.data, form.quantity.data = sale.product_id, str(sale.quantity)
        form.unit_price.data = f"{Decimal(sale.unit_price_cents) / 100:.2f}"
        form.sold_on.data, form.note.data = sale.sold_on.isoformat(), sale.note
        form.customer.data, form.customer_id.data = sale.customer.name, str(sale.customer_id)
        if len(sale.credits) > 1:
            form.share.data = f"{units_to_rate(sale.credits[0].share_units):f}"
            for credit, (agent_field, share_field) in zip(sale.credits[1:], form.co_agent_rows):
                agent_field.data, share_field.data = credit.agent_id, f"{units_to_rate(credit.share_units):f}"
            _show_co_agents(form)
        return render_template("sales/edit.html", form=form, sale=sale)
    form = _sale_form(request.form)
    if submit(form, lambda: sales.update_sale(current_user, sale, _sale_input(form))).ok:
        return finish(url_for("sales.detail", sale_id=sale.id), "Sale updated.")
    return render_template("sales/edit.html", form=form, sale=sale), 422


@bp.route("/sales/<int:sale_id>/cancel", methods=["POST"])
@agent_required
def cancel(sale_id: int):
    """Withdraw a pending sale of one's own."""
    sale = visible_sale(current_user, sale_id)
    outcome = run_service(lambda: sales.cancel_sale(current_user, sale), unplaced=FLASH)
    if not outcome.ok:
        return render_sale_page(sale, status=outcome.status)
    return finish(url_for("sales.detail", sale_id=sale.id), "Sale cancelled.", trigger=SALES_CHANGED)


@bp.route("/products/mine")
@agent_required
def my_products():
    """The products this agent may sell, assigned ones first."""
    return render_template("sales/my_products.html", assigned=catalog.assigned_products(current_user.id),
                           sellable=catalog.sellable_products(current_user.id))
