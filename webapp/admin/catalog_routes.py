"""Admin pages: categories, products (and who may sell them), monthly targets, settings."""

from __future__ import annotations

import re
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import clock
from webapp.admin import bp
from webapp.admin.catalog_forms import (CategoryCreateForm, CategoryEditForm, ProductAgentsForm,
                                        ProductCreateForm, ProductEditForm, SettingsForm, TargetForm)
from webapp.auth import services as accounts
from webapp.auth.decorators import admin_required
from webapp.auth.models import Role
from webapp.catalog import services as catalog
from webapp.catalog.models import Category, ProductAssignment
from webapp.commissions import periods, plans
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import apply_service_error, form_page, saved
from webapp.money import from_cents, to_cents

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


# --- reads the catalogue services do not offer yet (see the issue note) -------------------------

def _get_category(category_id: int) -> Category:
    """A category by id, or 404."""
    return db.session.get(Category, category_id) or abort(404)


def _assigned_agent_ids(product) -> set[int]:
    """Ids of the agents currently allowed to sell a restricted product."""
    return set(db.session.scalars(
        select(ProductAssignment.agent_id).where(ProductAssignment.product_id == product.id)))


def _agents(keep_ids: set[int] = frozenset()) -> list:
    """Active agents by name, plus any deactivated agent in `keep_ids` (so a save never drops them)."""
    return sorted((u for u in accounts.list_users()
                   if u.role == Role.AGENT.value and (u.active or u.id in keep_ids)),
                  key=lambda u: u.name.lower())


def _parse_month(text: str | None) -> date | None:
    """The first day of a YYYY-MM month, or None for anything else."""
    match = _MONTH.match((text or "").strip())
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None


def _is_htmx() -> bool:
    """True for a request sent by htmx (it then gets a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


# --- categories ---------------------------------------------------------------------------------

@bp.route("/categories")
@admin_required
def categories():
    """Every category with its code, product count and status."""
    counts: dict[int, int] = {}
    for product in catalog.list_products():
        counts[product.category_id] = counts.get(product.category_id, 0) + 1
    return render_template("admin/categories.html", categories=catalog.list_categories(), counts=counts)


@bp.route("/categories/new", methods=["GET", "POST"])
@admin_required
def category_new():
    """Create a category."""
    form = CategoryCreateForm()

    def done(category):
        flash(f"Category {category.name} created.", "success")
        return redirect(url_for("admin.categories"))

    return form_page(form, lambda: catalog.save_category(current_user, None, code=form.code.data,
                                                         name=form.name.data),
                     template="admin/category_form.html", done=done, category=None)


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@admin_required
def category_edit(category_id: int):
    """Rename a category."""
    category = _get_category(category_id)
    form = CategoryEditForm(obj=category)
    return form_page(form, lambda: catalog.save_category(current_user, category, code=category.code,
                                                         name=form.name.data, active=category.active),
                     template="admin/category_form.html", done=saved(f"Saved {category.name}.", "admin.categories"),
                     category=category)


def _set_category_active(category_id: int, active: bool):
    """Archive or restore a category through the catalogue service, then back to the list."""
    category = _get_category(category_id)
    if category.active != active:
        try:
            catalog.save_category(current_user, category, code=category.code, name=category.name,
                                  active=active)
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for("admin.categories"))
        db.session.commit()
    verb = "restored" if active else "archived: it is no longer offered for new products"
    flash(f"Category {category.name} {verb}.", "success")
    return redirect(url_for("admin.categories"))


@bp.route("/categories/<int:category_id>/archive", methods=["POST"])
@admin_required
def category_archive(category_id: int):
    """Archive a category (its products keep it; new products cannot choose it)."""
    return _set_category_active(category_id, False)


@bp.route("/categories/<int:category_id>/restore", methods=["POST"])
@admin_required
def category_restore(category_id: int):
    """Bring an archived category back."""
    return _set_category_active(category_id, True)


# --- products -----------------------------------------------------------------------------------

@bp.route("/products")
@admin_required
def products():
    """Every product with its category, list price, status and restriction."""
    rows = catalog.list_products()
    # Shown beside restricted products, so an admin sees at once one nobody can sell.
    assigned = {p.id: len(_assigned_agent_ids(p)) for p in rows if p.restricted}
    return render_template("admin/products.html", products=rows, assigned=assigned)


@bp.route("/products/new", methods=["GET", "POST"])
@admin_required
def product_new():
    """Create a product."""
    form = ProductCreateForm()
    form.set_categories(catalog.list_categories(include_archived=False))

    def done(product):
        if product.restricted:
            flash(f"Product {product.sku} created. Choose the agents who may sell it.", "success")
            return redirect(url_for("admin.product_agents", product_id=product.id))
        flash(f"Product {product.sku} created.", "success")
        return redirect(url_for("admin.products"))

    return form_page(form, lambda: catalog.save_product(
        current_user, None, sku=form.sku.data, name=form.name.data, category_id=form.category_id.data,
        list_price_cents=to_cents(form.list_price.decimal), restricted=form.restricted.data,
    ), template="admin/product_form.html", done=done, product=None)


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@admin_required
def product_edit(product_id: int):
    """Edit a product's name, category, list price, status and restriction."""
    product = catalog.get_product(product_id)
    form = ProductEditForm(obj=product)
    # An archived category stays offered to the products already in it.
    form.set_categories([c for c in catalog.list_categories() if c.active or c.id == product.category_id])
    if request.method == "GET":
        form.list_price.data = str(from_cents(product.list_price_cents))
    return form_page(form, lambda: catalog.save_product(
        current_user, product, sku=product.sku, name=form.name.data, category_id=form.category_id.data,
        list_price_cents=to_cents(form.list_price.decimal), active=form.active.data,
        restricted=form.restricted.data,
    ), template="admin/product_form.html", done=saved(f"Saved {product.sku}.", "admin.products"), product=product)


def _set_product_active(product_id: int, active: bool):
    """Archive or restore a product through the catalogue service, then back to the list."""
    product = catalog.get_product(product_id)
    if product.active != active:
        try:
            catalog.save_product(current_user, product, sku=product.sku, name=product.name,
                                 category_id=product.category_id, list_price_cents=product.list_price_cents,
                                 active=active, restricted=product.restricted)
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for("admin.products"))
        db.session.commit()
    verb = "restored: agents can sell it again" if active else "archived: it can no longer be sold"
    flash(f"Product {product.sku} {verb}.", "success")
    return redirect(url_for("admin.products"))


@bp.route("/products/<int:product_id>/archive", methods=["POST"])
@admin_required
def product_archive(product_id: int):
    """Archive a product: no new sales, its history stays."""
    return _set_product_active(product_id, False)


@bp.route("/products/<int:product_id>/restore", methods=["POST"])
@admin_required
def product_restore(product_id: int):
    """Make an archived product sellable again."""
    return _set_product_active(product_id, True)


@bp.route("/products/<int:product_id>/agents", methods=["GET", "POST"])
@admin_required
def product_agents(product_id: int):
    """Choose which agents may sell a restricted product."""
    product = catalog.get_product(product_id)
    assigned = _assigned_agent_ids(product)
    form = ProductAgentsForm(data={"agent_ids": sorted(assigned)})
    form.set_agents(_agents(keep_ids=assigned))
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                catalog.set_product_agents(current_user, product, set(form.agent_ids.data or ()))
            except ServiceError as exc:
                db.session.rollback()
                apply_service_error(form, exc)
            else:
                db.session.commit()
                count = len(form.agent_ids.data or ())
                flash(f"{count} agent{'s' if count != 1 else ''} may sell {product.sku}.", "success")
                return redirect(url_for("admin.products"))
        return render_template("admin/product_agents.html", form=form, product=product), 422
    return render_template("admin/product_agents.html", form=form, product=product)


# --- targets ------------------------------------------------------------------------------------

def _target_rows(month: date, posted: tuple[int, TargetForm] | None = None) -> list[dict]:
    """One row per active agent: the agent, their target for `month`, and the form to change it."""
    rows = []
    for agent in _agents():
        target = plans.target_for(agent.id, month)
        if posted and posted[0] == agent.id:
            form = posted[1]
        else:
            form = TargetForm(formdata=None,
                              amount=str(from_cents(target.amount_cents)) if target else "")
        rows.append({"agent": agent, "target": target, "form": form})
    return rows


def _month_links(month: date) -> dict[str, str]:
    """YYYY-MM of the months before and after `month`, for the month switcher."""
    before = date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)
    after = date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)
    return {"previous": before.strftime("%Y-%m"), "next": after.strftime("%Y-%m")}


@bp.route("/targets")
@admin_required
def targets():
    """Active agents with their sales target for a month (?month=YYYY-MM, default this month)."""
    text = request.args.get("month", "").strip()
    month = _parse_month(text) if text else clock.today().replace(day=1)
    if month is None:
        return render_template("admin/targets.html", month=None, month_text=text, rows=[],
                               month_error="Enter a month as YYYY-MM, for example 2026-05."), 422
    return render_template("admin/targets.html", month=month, month_text=month.strftime("%Y-%m"),
                           rows=_target_rows(month), links=_month_links(month))


@bp.route("/targets/<int:agent_id>", methods=["POST"])
@admin_required
def target_set(agent_id: int):
    """Set one agent's target for the month in ?month=; htmx gets the table row back."""
    agent = accounts.get_user(agent_id)
    if agent.role != Role.AGENT.value:
        abort(404)
    month = _parse_month(request.args.get("month")) or abort(400)
    form = TargetForm()
    saved = False
    if form.validate_on_submit():
        try:
            plans.set_target(current_user, agent_id=agent.id, month=month,
                             amount_cents=to_cents(form.amount.decimal))
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
        else:
            db.session.commit()
            saved = True
    if _is_htmx():
        target = plans.target_for(agent.id, month)
        if saved:  # show the amount as stored (25000 -> 25000.00), not as typed
            form = TargetForm(formdata=None, amount=str(from_cents(target.amount_cents)))
        row = {"agent": agent, "target": target, "form": form}
        return render_template("admin/partials/_target_row.html", row=row, month=month,
                               saved=saved), 200 if saved else 422
    if saved:
        flash(f"Target for {agent.name} in {month:%B %Y} saved.", "success")
        return redirect(url_for("admin.targets", month=month.strftime("%Y-%m")))
    return render_template("admin/targets.html", month=month, month_text=month.strftime("%Y-%m"),
                           rows=_target_rows(month, posted=(agent.id, form)), links=_month_links(month)), 422


# --- settings -----------------------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings():
    """Company name, sale approval, statement period cadence, grace time, reminder cadence and the
    hourly limit of statements on request."""
    current = periods.get_settings()
    form = SettingsForm(obj=current)
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                periods.update_settings(
                    current_user, company_name=form.company_name.data,
                    approval_required=form.approval_required.data,
                    period_cadence=form.period_cadence.data, grace_hours=form.grace_hours.data,
                    reminder_days=form.reminder_days.data,
                    statement_requests_per_hour=form.statement_requests_per_hour.data,
                )
            except ServiceError as exc:
                db.session.rollback()
                apply_service_error(form, exc)
            else:
                db.session.commit()
                flash("Settings saved.", "success")
                return redirect(url_for("admin.settings"))
        return render_template("admin/settings.html", form=form), 422
    return render_template("admin/settings.html", form=form)
