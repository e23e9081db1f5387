"""background_operations: heavy operations (plan recompute, period issue, bulk decisions) run as jobs

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 01:20:00

One row per operation too large for a request: its items (ids) in params, how many are done
(committed with each batch, so a retry resumes), per-item errors, the result, who started it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('background_operations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('done >= 0 AND done <= total', name=op.f('ck_background_operations_done_within_total')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_background_operations_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_background_operations'))
    )
    with op.batch_alter_table('background_operations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_background_operations_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('background_operations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_background_operations_status'))
    op.drop_table('background_operations')
