"""messages: drop the indexes on sender, customer_id and department_id

No query reads `messages` by these columns: searches filter them in the search index (search_index on the
`sql` backend, OpenSearch in production), and nothing deletes customers or departments (whose foreign-key
checks would have used them). Every import paid for them in each inserted row: replaying a 200 k-message
import's SQL on SQLite (benchmarks/sqlite_replay.py), 22.7 → 18.6 µs a message for the messages insert.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DROPPED = ("sender", "customer_id", "department_id")


def upgrade() -> None:
    for column in DROPPED:
        op.drop_index(f"ix_messages_{column}", table_name="messages")


def downgrade() -> None:
    for column in DROPPED:
        op.create_index(f"ix_messages_{column}", "messages", [column], unique=False)
