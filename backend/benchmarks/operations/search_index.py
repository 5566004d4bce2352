"""The trigram indexes a search could use, for measuring them (`--trigram-index`).

The package ships none: under row security PostgreSQL never uses them for
the application role (LIKE and lower() are not leakproof, so the planner may
not test them inside an index before the policy), while every write pays for
them. These are the candidates that were measured, made in the run's
database by its owner before the data is loaded, so the bulk-create figures
include their upkeep:

- `separate`: one GIN (gin_trgm_ops) on each lowered column;
- `composite`: one GIN on (user_id, lowered title, lowered description),
  user_id through btree_gin, so a scan could be limited to one user.

Run with `--without-row-security` to see what they would do if row security
let them.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from src.crud.search import LOWER_COLLATION

CHOICES = ("separate", "composite")


def _lower(column: str) -> str:
    return f'lower({column} COLLATE "{LOWER_COLLATION}")'


STATEMENTS = {
    "separate": [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        f"CREATE INDEX ix_todo_title_trigrams ON todo USING gin ({_lower('title')} gin_trgm_ops)",
        "CREATE INDEX ix_todo_description_trigrams ON todo"
        f" USING gin ({_lower('description')} gin_trgm_ops)",
    ],
    "composite": [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE EXTENSION IF NOT EXISTS btree_gin",
        "CREATE INDEX ix_todo_user_id_trigrams ON todo USING gin"
        f" (user_id, {_lower('title')} gin_trgm_ops, {_lower('description')} gin_trgm_ops)",
    ],
}


def create_trigram_indexes(owner: Engine, choice: str) -> None:
    """Create the `choice` indexes in the run's database, as the tables' owner."""
    if owner.dialect.name != "postgresql":
        raise SystemExit("--trigram-index needs PostgreSQL (--database-url)")
    with owner.begin() as connection:
        for statement in STATEMENTS[choice]:
            connection.execute(text(statement))


def index_note(choice: str) -> str:
    """The report's line on the indexes a run measured."""
    made = "; ".join(s for s in STATEMENTS[choice] if s.startswith("CREATE INDEX"))
    return f"- `--trigram-index {choice}`, created before loading: {made}"
