"""products: SKU unique whatever its case

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 07:30:00

The service already refused "ABC-1" beside "abc-1"; this makes the database refuse it too, so two
simultaneous saves cannot both land. An existing pair differing only in case makes the upgrade
fail with the duplicate named: rename one SKU, then upgrade again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('uq_products_sku_lower', 'products', [sa.text('lower(sku)')], unique=True)


def downgrade():
    op.drop_index('uq_products_sku_lower', table_name='products')
