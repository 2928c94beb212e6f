"""request and prediction statistics per minute (the Monitoring page's own store)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 14:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('request_stats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('minute', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('url_rule', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('status_class', sa.Integer(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('sum_ms', sa.Float(), nullable=False),
    sa.Column('max_ms', sa.Float(), nullable=False),
    sa.Column('buckets', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('request_stats', schema=None) as batch_op:
        batch_op.create_index('ix_request_stats_minute_user', ['minute', 'user_id'], unique=False)

    op.create_table('prediction_stats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('minute', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('sum_ms', sa.Float(), nullable=False),
    sa.Column('max_ms', sa.Float(), nullable=False),
    sa.Column('buckets', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('prediction_stats', schema=None) as batch_op:
        batch_op.create_index('ix_prediction_stats_user_minute', ['user_id', 'minute'], unique=False)
        batch_op.create_index(batch_op.f('ix_prediction_stats_model_id'), ['model_id'], unique=False)


def downgrade():
    with op.batch_alter_table('prediction_stats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prediction_stats_model_id'))
        batch_op.drop_index('ix_prediction_stats_user_minute')
    op.drop_table('prediction_stats')
    with op.batch_alter_table('request_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_request_stats_minute_user')
    op.drop_table('request_stats')
