"""gasless requests: requests.kind, signer, forward_nonce, signed; key_id nullable

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.alter_column('key_id', existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='keyed', nullable=False))
        batch_op.add_column(sa.Column('signer', sa.String(length=42), nullable=True))
        batch_op.add_column(sa.Column('forward_nonce', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('signed', sa.JSON(), nullable=True))
        batch_op.create_unique_constraint('uq_requests_forward_nonce', ['signer', 'forward_nonce'])


def downgrade() -> None:
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_constraint('uq_requests_forward_nonce', type_='unique')
        batch_op.drop_column('signed')
        batch_op.drop_column('forward_nonce')
        batch_op.drop_column('signer')
        batch_op.drop_column('kind')
        batch_op.alter_column('key_id', existing_type=sa.String(length=32), nullable=False)
