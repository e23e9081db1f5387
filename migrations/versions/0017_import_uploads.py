"""import uploads in the database

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 01:15:00.000000

- import_uploads: a file uploaded for import, kept between its preview and its confirmation in
  the database instead of a web host's disk (IMPORT_DIR), so several web hosts can serve the
  preview and the confirmation. Uploads still waiting on disk are not carried over: they expire
  within a day anyway, and their manager uploads the file again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('import_uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_import_uploads_owner_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_uploads')),
    sa.UniqueConstraint('token', name=op.f('uq_import_uploads_token'))
    )
    with op.batch_alter_table('import_uploads', schema=None) as batch_op:
        batch_op.create_index('ix_import_uploads_owner_created', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_uploads_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('import_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_uploads_created_at'))
        batch_op.drop_index('ix_import_uploads_owner_created')

    op.drop_table('import_uploads')
