"""plan documents and acknowledgements

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 12:10:57.759823

- plan_documents: each agent's immutable, numbered, hashed document for a plan version under an
  assignment; plan_acknowledgements: the typed name, time, IP address and user agent.
- disputes: a dispute may instead be a question about a plan document (no ledger line: the line
  fields become optional), answered by a manager (status "answered").
- plan_versions.terms (the admin's section of the document) and document_revision (raised by an
  edit, so agents read the new text); settings: the document counter and the reminder cadence.
"""
from alembic import op
import sqlalchemy as sa


# SQLite rebuilds an altered table from its reflection; see 0012.
NO_FK_REFLECTION = {'resolve_fks': False}


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('plan_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('render_error', sa.Text(), nullable=True),
    sa.Column('rendered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminders_sent', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'rendered', 'failed')", name=op.f('ck_plan_documents_status_known')),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_plan_documents_agent_id_users')),
    sa.ForeignKeyConstraint(['assignment_id'], ['plan_assignments.id'], name=op.f('fk_plan_documents_assignment_id_plan_assignments')),
    sa.ForeignKeyConstraint(['plan_id'], ['commission_plans.id'], name=op.f('fk_plan_documents_plan_id_commission_plans')),
    sa.ForeignKeyConstraint(['version_id'], ['plan_versions.id'], name=op.f('fk_plan_documents_version_id_plan_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_documents')),
    sa.UniqueConstraint('assignment_id', 'version_id', 'revision', name='uq_plan_documents_issue'),
    sa.UniqueConstraint('number', name=op.f('uq_plan_documents_number'))
    )
    with op.batch_alter_table('plan_documents', schema=None) as batch_op:
        batch_op.create_index('ix_plan_documents_agent_created', ['agent_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_documents_version_id'), ['version_id'], unique=False)

    op.create_table('plan_acknowledgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('document_number', sa.Integer(), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('typed_name', sa.String(length=200), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=512), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('render_error', sa.Text(), nullable=True),
    sa.Column('rendered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'rendered', 'failed')", name=op.f('ck_plan_acknowledgements_status_known')),
    sa.CheckConstraint('length(typed_name) > 0', name=op.f('ck_plan_acknowledgements_typed_name_given')),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_plan_acknowledgements_agent_id_users')),
    sa.ForeignKeyConstraint(['document_id'], ['plan_documents.id'], name=op.f('fk_plan_acknowledgements_document_id_plan_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_acknowledgements')),
    sa.UniqueConstraint('document_id', name='uq_plan_acknowledgements_document_id')
    )
    with op.batch_alter_table('plan_acknowledgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_acknowledgements_agent_id'), ['agent_id'], unique=False)

    with op.batch_alter_table('disputes', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.add_column(sa.Column('plan_document_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint(op.f('ck_disputes_status_known'), type_='check')
        batch_op.create_check_constraint('status_known', "status IN ('open', 'accepted', 'rejected', 'answered')")
        batch_op.create_check_constraint(
            'about_a_line_or_a_plan',
            "(plan_document_id IS NULL AND period_id IS NOT NULL AND entry_kind IS NOT NULL"
            " AND entry_amount_cents IS NOT NULL)"
            " OR (plan_document_id IS NOT NULL AND entry_id IS NULL AND sale_id IS NULL)")
        batch_op.create_check_constraint(
            'answered_is_a_plan_question',
            "status <> 'answered' OR (plan_document_id IS NOT NULL AND resolution_note IS NOT NULL)")
        batch_op.alter_column('period_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.alter_column('entry_kind',
               existing_type=sa.VARCHAR(length=16),
               nullable=True)
        batch_op.alter_column('entry_amount_cents',
               existing_type=sa.BIGINT(),
               nullable=True)
        batch_op.create_index('uq_disputes_open_plan_document', ['plan_document_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.create_foreign_key(batch_op.f('fk_disputes_plan_document_id_plan_documents'), 'plan_documents', ['plan_document_id'], ['id'])

    with op.batch_alter_table('plan_versions', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.add_column(sa.Column('terms', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('document_revision', sa.Integer(), server_default='1', nullable=False))

    with op.batch_alter_table('settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_plan_document_number', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('plan_reminder_days', sa.Integer(), server_default='7', nullable=False))
        batch_op.create_check_constraint('plan_reminder_range', 'plan_reminder_days BETWEEN 0 AND 365')



def downgrade():
    with op.batch_alter_table('settings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_settings_plan_reminder_range'), type_='check')
        batch_op.drop_column('plan_reminder_days')
        batch_op.drop_column('last_plan_document_number')

    with op.batch_alter_table('plan_versions', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.drop_column('document_revision')
        batch_op.drop_column('terms')

    # Plan questions have no ledger line: they go before the line fields become required again.
    op.execute("DELETE FROM dispute_messages WHERE dispute_id IN (SELECT id FROM disputes WHERE plan_document_id IS NOT NULL)")
    op.execute("DELETE FROM disputes WHERE plan_document_id IS NOT NULL")
    with op.batch_alter_table('disputes', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.drop_constraint(op.f('ck_disputes_answered_is_a_plan_question'), type_='check')
        batch_op.drop_constraint(op.f('ck_disputes_about_a_line_or_a_plan'), type_='check')
        batch_op.drop_constraint(op.f('ck_disputes_status_known'), type_='check')
        batch_op.create_check_constraint('status_known', "status IN ('open', 'accepted', 'rejected')")
        batch_op.drop_constraint(batch_op.f('fk_disputes_plan_document_id_plan_documents'), type_='foreignkey')
        batch_op.drop_index('uq_disputes_open_plan_document', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.alter_column('entry_amount_cents',
               existing_type=sa.BIGINT(),
               nullable=False)
        batch_op.alter_column('entry_kind',
               existing_type=sa.VARCHAR(length=16),
               nullable=False)
        batch_op.alter_column('period_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('plan_document_id')

    with op.batch_alter_table('plan_acknowledgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_acknowledgements_agent_id'))

    op.drop_table('plan_acknowledgements')
    with op.batch_alter_table('plan_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_documents_version_id'))
        batch_op.drop_index('ix_plan_documents_agent_created')

    op.drop_table('plan_documents')
