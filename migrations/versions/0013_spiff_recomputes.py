"""spiff_recomputes: a SPIFF change's holder-months recomputed in the background, with progress

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 08:00:00

A SPIFF created, versioned or ended early recomputes every holder-month it touches; when that is
many (thousands of agents), a job does it and this row keeps the pairs and how far it got.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('spiff_recomputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('spiff_id', sa.Integer(), nullable=False),
    sa.Column('pairs', sa.JSON(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('done >= 0 AND done <= total', name=op.f('ck_spiff_recomputes_done_within_total')),
    sa.ForeignKeyConstraint(['spiff_id'], ['spiffs.id'], name=op.f('fk_spiff_recomputes_spiff_id_spiffs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spiff_recomputes'))
    )
    with op.batch_alter_table('spiff_recomputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spiff_recomputes_spiff_id'), ['spiff_id'], unique=False)


def downgrade():
    with op.batch_alter_table('spiff_recomputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spiff_recomputes_spiff_id'))
    op.drop_table('spiff_recomputes')
