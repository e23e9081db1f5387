"""split credit, attainment tiers, SPIFFs (COMMISSION_RULES.md sections 8-10)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:54:27.269346

- sale_credits: every sale's holders. Existing sales get their one primary credit (100%, the whole
  amount, the agent's manager as the team), so the ledger reads credits for every sale alike.
- plan_versions.basis and plan_tiers.from_percent_units: tier tables measured in percent of the
  month's target. Existing tier tables get the basis "amount" (what they always meant).
- spiffs, spiff_versions and their eligibility (products, categories, teams); ledger entries of
  kind "spiff" naming their SPIFF, and every entry's derivation (the engine's own working).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# SQLite rebuilds an altered table from its reflection. Reflecting the tables its foreign keys point
# to as well would reach products, whose expression index SQLite cannot reflect (a warning).
NO_FK_REFLECTION = {'resolve_fks': False}


def upgrade():
    op.create_table('spiffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_spiffs_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spiffs')),
    sa.UniqueConstraint('name', name=op.f('uq_spiffs_name'))
    )
    op.create_table('spiff_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('spiff_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('per_unit_cents', sa.BigInteger(), nullable=True),
    sa.Column('percent_units', sa.Integer(), nullable=True),
    sa.Column('cap_cents', sa.BigInteger(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('(per_unit_cents IS NULL) <> (percent_units IS NULL)', name=op.f('ck_spiff_versions_one_reward_kind')),
    sa.CheckConstraint('cap_cents >= 1', name=op.f('ck_spiff_versions_cap_positive')),
    sa.CheckConstraint('last_day >= first_day', name=op.f('ck_spiff_versions_days_in_order')),
    sa.CheckConstraint('per_unit_cents >= 1', name=op.f('ck_spiff_versions_per_unit_positive')),
    sa.CheckConstraint('percent_units BETWEEN 0 AND 1000000', name=op.f('ck_spiff_versions_percent_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_spiff_versions_created_by_id_users')),
    sa.ForeignKeyConstraint(['spiff_id'], ['spiffs.id'], name=op.f('fk_spiff_versions_spiff_id_spiffs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spiff_versions')),
    sa.UniqueConstraint('spiff_id', 'effective_from', name='uq_spiff_versions_spiff_effective_from')
    )
    with op.batch_alter_table('spiff_versions', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.create_index(batch_op.f('ix_spiff_versions_spiff_id'), ['spiff_id'], unique=False)

    op.create_table('sale_credits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sale_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('share_units', sa.Integer(), nullable=False),
    sa.Column('credit_cents', sa.BigInteger(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('credit_cents >= 0', name=op.f('ck_sale_credits_credit_not_negative')),
    sa.CheckConstraint('position BETWEEN 0 AND 4', name=op.f('ck_sale_credits_position_range')),
    sa.CheckConstraint('share_units BETWEEN 1 AND 1000000', name=op.f('ck_sale_credits_share_range')),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_sale_credits_agent_id_users')),
    sa.ForeignKeyConstraint(['sale_id'], ['sales.id'], name=op.f('fk_sale_credits_sale_id_sales')),
    sa.ForeignKeyConstraint(['team_id'], ['users.id'], name=op.f('fk_sale_credits_team_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_credits')),
    sa.UniqueConstraint('sale_id', 'agent_id', name='uq_sale_credits_sale_agent'),
    sa.UniqueConstraint('sale_id', 'position', name='uq_sale_credits_sale_position')
    )
    with op.batch_alter_table('sale_credits', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.create_index('ix_sale_credits_agent_sale', ['agent_id', 'sale_id'], unique=False)

    op.create_table('spiff_version_categories',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_spiff_version_categories_category_id_categories')),
    sa.ForeignKeyConstraint(['version_id'], ['spiff_versions.id'], name=op.f('fk_spiff_version_categories_version_id_spiff_versions')),
    sa.PrimaryKeyConstraint('version_id', 'category_id', name=op.f('pk_spiff_version_categories'))
    )
    op.create_table('spiff_version_products',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_spiff_version_products_product_id_products')),
    sa.ForeignKeyConstraint(['version_id'], ['spiff_versions.id'], name=op.f('fk_spiff_version_products_version_id_spiff_versions')),
    sa.PrimaryKeyConstraint('version_id', 'product_id', name=op.f('pk_spiff_version_products'))
    )
    op.create_table('spiff_version_teams',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['manager_id'], ['users.id'], name=op.f('fk_spiff_version_teams_manager_id_users')),
    sa.ForeignKeyConstraint(['version_id'], ['spiff_versions.id'], name=op.f('fk_spiff_version_teams_version_id_spiff_versions')),
    sa.PrimaryKeyConstraint('version_id', 'manager_id', name=op.f('pk_spiff_version_teams'))
    )
    sales = sa.table('sales', sa.column('id', sa.Integer), sa.column('agent_id', sa.Integer),
                     sa.column('amount_cents', sa.BigInteger))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('manager_id', sa.Integer))
    credits = sa.table('sale_credits', sa.column('sale_id', sa.Integer), sa.column('agent_id', sa.Integer),
                       sa.column('position', sa.Integer), sa.column('share_units', sa.Integer),
                       sa.column('credit_cents', sa.BigInteger), sa.column('team_id', sa.Integer))
    op.execute(credits.insert().from_select(
        ['sale_id', 'agent_id', 'position', 'share_units', 'credit_cents', 'team_id'],
        sa.select(sales.c.id, sales.c.agent_id, sa.literal(0), sa.literal(1_000_000), sales.c.amount_cents,
                  users.c.manager_id).select_from(sales.join(users, users.c.id == sales.c.agent_id))))

    with op.batch_alter_table('commission_entries', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.drop_constraint(op.f('ck_commission_entries_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', "kind IN ('sale', 'adjustment', 'manual', 'spiff')")
        batch_op.add_column(sa.Column('spiff_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('spiff_version_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('derivation', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_commission_entries_spiff_id'), ['spiff_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_commission_entries_spiff_id_spiffs'), 'spiffs', ['spiff_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_commission_entries_spiff_version_id_spiff_versions'), 'spiff_versions', ['spiff_version_id'], ['id'])
        batch_op.create_check_constraint('spiff_entries_have_spiff', "kind <> 'spiff' OR spiff_id IS NOT NULL")
        batch_op.create_check_constraint('sale_entries_have_no_spiff', "kind <> 'sale' OR spiff_id IS NULL")

    with op.batch_alter_table('plan_tiers', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.add_column(sa.Column('from_percent_units', sa.BigInteger(), nullable=True))
        batch_op.alter_column('from_cents',
               existing_type=sa.BIGINT(),
               nullable=True)
        batch_op.create_unique_constraint('uq_plan_tiers_version_from_percent', ['version_id', 'from_percent_units'])
        batch_op.create_check_constraint('from_percent_not_negative', 'from_percent_units >= 0')
        batch_op.create_check_constraint('from_cents_xor_percent', '(from_cents IS NULL) <> (from_percent_units IS NULL)')

    with op.batch_alter_table('plan_versions', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.add_column(sa.Column('basis', sa.String(length=16), nullable=True))

    versions = sa.table('plan_versions', sa.column('tier_mode', sa.String), sa.column('basis', sa.String))
    op.execute(versions.update().where(versions.c.tier_mode.is_not(None)).values(basis='amount'))
    with op.batch_alter_table('plan_versions', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.create_check_constraint(
            'basis_with_tiers', '(tier_mode IS NULL AND basis IS NULL) OR (tier_mode IS NOT NULL AND basis IS NOT NULL)')
        batch_op.create_check_constraint('basis_known', "basis IS NULL OR basis IN ('amount', 'target_percent')")



def downgrade():
    with op.batch_alter_table('plan_versions', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.drop_constraint(op.f('ck_plan_versions_basis_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_plan_versions_basis_with_tiers'), type_='check')
        batch_op.drop_column('basis')

    with op.batch_alter_table('plan_tiers', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.drop_constraint(op.f('ck_plan_tiers_from_cents_xor_percent'), type_='check')
        batch_op.drop_constraint(op.f('ck_plan_tiers_from_percent_not_negative'), type_='check')
        batch_op.drop_constraint('uq_plan_tiers_version_from_percent', type_='unique')
        batch_op.alter_column('from_cents',
               existing_type=sa.BIGINT(),
               nullable=False)
        batch_op.drop_column('from_percent_units')

    with op.batch_alter_table('commission_entries', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.drop_constraint(op.f('ck_commission_entries_sale_entries_have_no_spiff'), type_='check')
        batch_op.drop_constraint(op.f('ck_commission_entries_spiff_entries_have_spiff'), type_='check')
        batch_op.drop_constraint(op.f('ck_commission_entries_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', "kind IN ('sale', 'adjustment', 'manual')")
        batch_op.drop_constraint(batch_op.f('fk_commission_entries_spiff_version_id_spiff_versions'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_commission_entries_spiff_id_spiffs'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_commission_entries_spiff_id'))
        batch_op.drop_column('derivation')
        batch_op.drop_column('spiff_version_id')
        batch_op.drop_column('spiff_id')

    op.drop_table('spiff_version_teams')
    op.drop_table('spiff_version_products')
    op.drop_table('spiff_version_categories')
    with op.batch_alter_table('sale_credits', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.drop_index('ix_sale_credits_agent_sale')

    op.drop_table('sale_credits')
    with op.batch_alter_table('spiff_versions', schema=None, reflect_kwargs=NO_FK_REFLECTION) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spiff_versions_spiff_id'))

    op.drop_table('spiff_versions')
    op.drop_table('spiffs')
