"""search: one search_index row per message; tokens in FTS5 (SQLite) or a GIN-indexed bigint[] (PostgreSQL)

Replaces search_docs/search_tokens (a b-tree of postings). The index is derived data: after upgrading,
`chatvault reindex` fills it. SQLite's FTS5 table (search_index_fts) is created by SqlBackend.ensure_ready,
since Alembic cannot describe a virtual table.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("search_tokens")
    op.drop_table("search_docs")
    if sa.inspect(op.get_bind()).has_table("search_index"):  # already made by SqlBackend.ensure_ready
        return
    op.create_table(
        "search_index",
        sa.Column(
            "docno", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column(
            "id",
            sa.String(length=32).with_variant(sa.String(length=32, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("msgtime_ms", sa.BigInteger(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=False),
        sa.Column("msgtype", sa.String(length=40), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("risk_labels", sa.String(length=256), nullable=False),
        sa.Column("recalled", sa.Boolean(), nullable=False),
        sa.Column(
            "tokens", sa.Text().with_variant(postgresql.ARRAY(sa.BigInteger()), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("docno", name=op.f("pk_search_index")),
        sa.UniqueConstraint("id", name=op.f("uq_search_index_id")),
    )
    for col in ("customer_id", "department_id", "employee_id", "room_id", "sender"):
        op.create_index(op.f(f"ix_search_index_{col}"), "search_index", [col], unique=False)
    op.create_index("ix_search_index_time", "search_index", ["msgtime_ms", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_search_index_tokens", "search_index", ["tokens"], unique=False, postgresql_using="gin"
        )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS search_index_fts")
    op.drop_table("search_index")
    # 0001's search_docs/search_tokens are not recreated here: the lead's 0001 holds their definition.
