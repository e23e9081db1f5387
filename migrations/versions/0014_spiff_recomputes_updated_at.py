"""spiff_recomputes.updated_at: when a run was last queued or made progress

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 09:00:00

The sweep requeued only runs still queued (by created_at); a worker killed mid-batch left its run
"running" for ever. The job now stamps updated_at at each committed batch, and the sweep requeues a
queued or running run that has not changed for a while. Existing rows start from created_at.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # Added nullable first: SQLite cannot add a column defaulting to CURRENT_TIMESTAMP in place;
    # making it NOT NULL afterwards copies the table there (a small one: runs, not ledger rows).
    with op.batch_alter_table('spiff_recomputes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    runs = sa.table('spiff_recomputes', sa.column('created_at', sa.DateTime(timezone=True)),
                    sa.column('updated_at', sa.DateTime(timezone=True)))
    op.execute(runs.update().values(updated_at=runs.c.created_at))
    with op.batch_alter_table('spiff_recomputes', schema=None) as batch_op:
        batch_op.alter_column('updated_at', existing_type=sa.DateTime(timezone=True), nullable=False,
                              server_default=sa.text('(CURRENT_TIMESTAMP)'))


def downgrade():
    with op.batch_alter_table('spiff_recomputes', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
