"""statements on request: an hourly limit per person, and Idempotency-Keys on runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 15:30:00

settings.statement_requests_per_hour (default 5, 1 to 100): how many on-request statement runs
one person may start in any hour. statement_runs.idempotency_key: an API client's key, unique
per requester (NULL for runs without one); the index serves the hourly count.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('statement_requests_per_hour', sa.Integer(), server_default='5',
                                      nullable=False))
        # Added by hand: autogenerate does not compare check constraints.
        batch_op.create_check_constraint(op.f('ck_settings_statement_requests_range'),
                                         'statement_requests_per_hour BETWEEN 1 AND 100')

    with op.batch_alter_table('statement_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_statement_runs_requester_key'),
                                          ['requested_by_id', 'idempotency_key'])
        batch_op.create_index('ix_statement_runs_requester_created', ['requested_by_id', 'created_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('statement_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_statement_runs_requester_created')
        batch_op.drop_constraint(batch_op.f('uq_statement_runs_requester_key'), type_='unique')
        batch_op.drop_column('idempotency_key')

    with op.batch_alter_table('settings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_settings_statement_requests_range'), type_='check')
        batch_op.drop_column('statement_requests_per_hour')
