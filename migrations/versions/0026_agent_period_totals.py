"""agent_period_totals: each agent's total of each closed period, kept when the period closes

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 01:20:00.000000

Unpaid balances, paying a period and the team chart summed every entry an agent ever had (a year
at 500 agents: 945,000 entries on every refresh of the admin's team dashboard). A closed period's
entries never change, so close_period now sums them once per agent; periods.totals_kept says a
period's totals are there. The periods already closed get theirs here, in one pass over their
entries (seconds at a million entries).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'agent_period_totals',
        sa.Column('agent_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        # agent_id has no foreign key: see AgentPeriodTotal (a close would deadlock with ledger writes).
        sa.ForeignKeyConstraint(['period_id'], ['periods.id'], name=op.f('fk_agent_period_totals_period_id_periods')),
        sa.PrimaryKeyConstraint('agent_id', 'period_id', name=op.f('pk_agent_period_totals')),
    )
    with op.batch_alter_table('agent_period_totals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_period_totals_period_id'), ['period_id'], unique=False)
    # Not in batch mode: SQLite adds (and drops) a column in place, where a batch would rebuild
    # periods, which the ledger's rows refer to.
    op.add_column('periods', sa.Column('totals_kept', sa.Boolean(), server_default='0', nullable=False))
    op.execute("""
        INSERT INTO agent_period_totals (agent_id, period_id, amount_cents)
        SELECT e.agent_id, e.period_id, sum(e.amount_cents) FROM commission_entries e
        JOIN periods p ON p.id = e.period_id WHERE p.status = 'closed'
        GROUP BY e.agent_id, e.period_id""")
    op.execute("UPDATE periods SET totals_kept = true WHERE status = 'closed'")


def downgrade():
    op.drop_column('periods', 'totals_kept')
    with op.batch_alter_table('agent_period_totals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_period_totals_period_id'))
    op.drop_table('agent_period_totals')
