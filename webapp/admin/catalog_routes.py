"""Admin pages: categories and products (and who may sell them)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp.admin import bp
from webapp.admin.catalog_forms import (CategoryCreateForm, CategoryEditForm, ProductAgentsForm,
                                        ProductCreateForm, ProductEditForm)
from webapp.auth import services as accounts
from webapp.auth.decorators import admin_required
from webapp.catalog import services as catalog
from webapp.catalog.models import Category, ProductAssignment
from webapp.errors import get_or_404
from webapp.extensions import db
from webapp.money import from_cents, to_cents
from webapp.web import FLASH, finish, form_page, run_service, saved


# --- reads the catalogue services do not offer yet (see the issue note) -------------------------

def _get_category(category_id: int) -> Category:
    """A category by id, or 404."""
    return get_or_404(Category, category_id)


def _assigned_agent_ids(product) -> set[int]:
    """Ids of the agents currently allowed to sell a restricted product."""
    return set(db.session.scalars(
        select(ProductAssignment.agent_id).where(ProductAssignment.product_id == product.id)))


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
    return form_page(form, lambda: catalog.save_category(current_user, None, code=form.code.data,
                                                         name=form.name.data),
                     template="admin/category_form.html", category=None,
                     done=lambda category: finish(url_for("admin.categories"), f"Category {category.name} created."))


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


def _archive_or_restore(change, back: str, done: str):
    """Run `change` (None: already so) through the catalogue service, then back to the list `back`
    with the message `done`, or with the service's refusal."""
    if change is not None and not run_service(change, unplaced=FLASH).ok:
        return redirect(url_for(back))
    return finish(url_for(back), done)


@bp.route("/categories/<int:category_id>/archive", methods=["POST"], endpoint="category_archive")
@bp.route("/categories/<int:category_id>/restore", methods=["POST"], endpoint="category_restore")
@admin_required
def category_set_active(category_id: int):
    """Archive a category (its products keep it; new products cannot choose it), or bring it back."""
    category = _get_category(category_id)
    active = request.endpoint == "admin.category_restore"
    verb = "restored" if active else "archived: it is no longer offered for new products"
    return _archive_or_restore(None if category.active == active else lambda: catalog.save_category(
        current_user, category, code=category.code, name=category.name, active=active),
        "admin.categories", f"Category {category.name} {verb}.")


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
            return finish(url_for("admin.product_agents", product_id=product.id),
                          f"Product {product.sku} created. Choose the agents who may sell it.")
        return finish(url_for("admin.products"), f"Product {product.sku} created.")

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


@bp.route("/products/<int:product_id>/archive", methods=["POST"], endpoint="product_archive")
@bp.route("/products/<int:product_id>/restore", methods=["POST"], endpoint="product_restore")
@admin_required
def product_set_active(product_id: int):
    """Archive a product (no new sales, its history stays), or make it sellable again."""
    product = catalog.get_product(product_id)
    active = request.endpoint == "admin.product_restore"
    verb = "restored: agents can sell it again" if active else "archived: it can no longer be sold"
    return _archive_or_restore(None if product.active == active else lambda: catalog.save_product(
        current_user, product, sku=product.sku, name=product.name, category_id=product.category_id,
        list_price_cents=product.list_price_cents, active=active, restricted=product.restricted),
        "admin.products", f"Product {product.sku} {verb}.")


@bp.route("/products/<int:product_id>/agents", methods=["GET", "POST"])
@admin_required
def product_agents(product_id: int):
    """Choose which agents may sell a restricted product."""
    product = catalog.get_product(product_id)
    assigned = _assigned_agent_ids(product)
    form = ProductAgentsForm(data={"agent_ids": sorted(assigned)})
    form.set_agents(accounts.list_agents(keep_ids=assigned))
    count = len(form.agent_ids.data or ())
    return form_page(form, lambda: catalog.set_product_agents(current_user, product, set(form.agent_ids.data or ())),
                     template="admin/product_agents.html", product=product,
                     done=saved(f"{count} agent{'s' if count != 1 else ''} may sell {product.sku}.", "admin.products"))
