"""commission_entries: derivation_digest, a fingerprint of each derivation's numbers

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 11:00:00.000000

- derivation_digest (32 hex characters): webapp.commissions.derivations.derivation_digest of the
  entry's derivation. A month's recompute compares it with the engine's figure instead of decoding
  every stored derivation (bench/recompute_month.py); the derivation is rewritten only when the
  numbers changed.
- Existing derivations get theirs here, in batches by id. The function is repeated below as it was
  when this migration was written, so the migration keeps doing what it did if the app's changes.
"""
import hashlib
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

BATCH = 5000


def _digest(derivation: dict) -> str:
    """derivation_digest as of this migration: the numbers (no words) as canonical JSON, hashed."""
    numbers = {name: value for name, value in derivation.items() if name != "words"}
    text = json.dumps(numbers, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def upgrade():
    with op.batch_alter_table('commission_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('derivation_digest', sa.String(length=32), nullable=True))
    entries = sa.table('commission_entries', sa.column('id', sa.Integer), sa.column('derivation', sa.JSON),
                       sa.column('derivation_digest', sa.String))
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(entries.c.id, entries.c.derivation)
            .where(entries.c.id > after, entries.c.derivation.is_not(None))
            .order_by(entries.c.id).limit(BATCH)).all()
        if not rows:
            break
        digests = [{"entry_id": row.id, "digest": _digest(row.derivation)} for row in rows if row.derivation]
        if digests:
            connection.execute(entries.update().where(entries.c.id == sa.bindparam("entry_id"))
                               .values(derivation_digest=sa.bindparam("digest")), digests)
        after = rows[-1].id


def downgrade():
    with op.batch_alter_table('commission_entries', schema=None) as batch_op:
        batch_op.drop_column('derivation_digest')
