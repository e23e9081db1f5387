"""spiffs: name unique whatever its case

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:10:00

The service already refused "Push" beside "push"; this makes the database refuse it too, so two
simultaneous creates cannot both land (the service turns the violation into a field error). An
existing pair differing only in case makes the upgrade fail with the duplicate named: rename one
SPIFF, then upgrade again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('uq_spiffs_name_lower', 'spiffs', [sa.text('lower(name)')], unique=True)


def downgrade():
    op.drop_index('uq_spiffs_name_lower', table_name='spiffs')
