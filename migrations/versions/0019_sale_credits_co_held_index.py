"""sale_credits: a partial index of co-agent credits

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 04:20:00.000000

- ix_sale_credits_co_held (agent_id, sale_id) WHERE position > 0: with the sales' (agent_id,
  sold_on) index it finds the sales an agent holds in a month without reading every credit the
  agent ever held (webapp/commissions/held.py). Co-agent credits are few, so the index is small.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sale_credits', schema=None) as batch_op:
        batch_op.create_index('ix_sale_credits_co_held', ['agent_id', 'sale_id'], unique=False,
                              postgresql_where=sa.text('position > 0'), sqlite_where=sa.text('position > 0'))


def downgrade():
    with op.batch_alter_table('sale_credits', schema=None) as batch_op:
        batch_op.drop_index('ix_sale_credits_co_held', postgresql_where=sa.text('position > 0'),
                            sqlite_where=sa.text('position > 0'))
