"""commission_entries.late_approval: a flag of its own instead of text in the reason

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00

A system adjustment that carries the whole commission of a sale approved after its period closed
was recognised by its reason text ("Late approval of a sale dated ..."). The ledger now sets
late_approval on it, and statements read the flag. Existing rows are backfilled from the text the
ledger wrote: only system adjustments, since a manual entry's reason is whatever a manager typed.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # A constant default ('0' is false on both databases), not sa.false(): SQLite can then add the
    # column in place instead of copying the ledger table.
    with op.batch_alter_table('commission_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('late_approval', sa.Boolean(), server_default='0', nullable=False))

    entries = sa.table('commission_entries', sa.column('kind', sa.String), sa.column('reason', sa.Text),
                       sa.column('late_approval', sa.Boolean))
    # substr, not LIKE: LIKE ignores case on SQLite, and the ledger's prefix is exact.
    op.execute(entries.update()
               .where(entries.c.kind == 'adjustment',
                      sa.func.substr(entries.c.reason, 1, len('Late approval')) == 'Late approval')
               .values(late_approval=True))


def downgrade():
    with op.batch_alter_table('commission_entries', schema=None) as batch_op:
        batch_op.drop_column('late_approval')
