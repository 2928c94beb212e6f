"""drift references: each model's cached training profile and its last PSI figures

Revision ID: 0007
Revises: 0006 (temporarily 0005_predictions while 0006 does not exist)
Create Date: 2026-11-26 14:15:00

Actuals need no change: prediction_logs.actual and actual_at exist since 0005.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0005_predictions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('drift_references',
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_psi', sa.JSON(), nullable=True),
    sa.Column('last_computed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['trained_models.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_id')
    )


def downgrade():
    op.drop_table('drift_references')
