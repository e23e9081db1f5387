"""api_tokens: read or write per area (scopes) and an optional last day (expires_on)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 08:00:00.000000

A token was read or write for everything its user's role allows. It now grants read or write per
area (sales, ledger, payouts, admin), as "sales:write ledger:read"; an existing token keeps what
it could do: a write token every area write, a read token every area read. `expires_on` is the
token's last day (none for the existing ones).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

AREAS = ('sales', 'ledger', 'payouts', 'admin')


def _all(level: str) -> str:
    return ' '.join(f'{area}:{level}' for area in AREAS)


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('expires_on', sa.Date(), nullable=True))
    tokens = sa.table('api_tokens', sa.column('scope', sa.String), sa.column('scopes', sa.String))
    for level in ('read', 'write'):
        op.execute(tokens.update().where(tokens.c.scope == level).values(scopes=_all(level)))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('scopes', existing_type=sa.String(length=120), nullable=False)
        batch_op.drop_constraint(op.f('ck_api_tokens_scope_known'), type_='check')
        batch_op.drop_column('scope')


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=8), nullable=True))
    tokens = sa.table('api_tokens', sa.column('scope', sa.String), sa.column('scopes', sa.String))
    # Back to one scope: write only if the token could write everywhere, else read.
    op.execute(tokens.update().values(scope='read'))
    op.execute(tokens.update().where(tokens.c.scopes == _all('write')).values(scope='write'))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('scope', existing_type=sa.String(length=8), nullable=False)
        batch_op.create_check_constraint('scope_known', "scope IN ('read', 'write')")
        batch_op.drop_column('expires_on')
        batch_op.drop_column('scopes')
