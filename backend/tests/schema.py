"""The schema of a PostgreSQL database as PostgreSQL itself reports it.

Used to prove that migrations, `create_all` and the SQL contract build the
same schema: every column with its type, nullability and default, every
constraint and index with its definition, row security and every policy.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

TABLES = ("user", "todo")

_COLUMNS = """
    SELECT table_name, column_name, data_type, character_maximum_length,
           is_nullable, column_default
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name = ANY(:tables)
    ORDER BY table_name, column_name
"""
_CONSTRAINTS = """
    SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text = ANY(:quoted)
    ORDER BY 1, 2
"""
_INDEXES = """
    SELECT tablename, indexname, indexdef
    FROM pg_indexes
    WHERE schemaname = 'public' AND tablename = ANY(:tables)
    ORDER BY 1, 2
"""


_ROW_SECURITY = """
    SELECT relname, relrowsecurity, relforcerowsecurity
    FROM pg_class
    WHERE relnamespace = 'public'::regnamespace AND relname = ANY(:tables)
    ORDER BY 1
"""
_POLICIES = """
    SELECT tablename, policyname, permissive, roles::text[], cmd, qual, with_check
    FROM pg_policies
    WHERE schemaname = 'public' AND tablename = ANY(:tables)
    ORDER BY 1, 2
"""

_GENERATED = """
    SELECT table_name, column_name, generation_expression
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name = ANY(:tables) AND is_generated = 'ALWAYS'
    ORDER BY 1, 2
"""
_OPTIONS = """
    SELECT relname, reloptions::text[] FROM pg_class
    WHERE relnamespace = 'public'::regnamespace AND relname = ANY(:tables)
    ORDER BY 1
"""


def describe(connection: Connection) -> dict[str, list[tuple[object, ...]]]:
    """Columns, constraints, indexes, row security and policies of the application's tables."""
    tables = list(TABLES)
    quoted = ['"user"', "todo"]
    return {
        "columns": [tuple(r) for r in connection.execute(text(_COLUMNS), {"tables": tables})],
        "constraints": [
            tuple(r) for r in connection.execute(text(_CONSTRAINTS), {"quoted": quoted})
        ],
        "indexes": [tuple(r) for r in connection.execute(text(_INDEXES), {"tables": tables})],
        "row_security": [
            tuple(r) for r in connection.execute(text(_ROW_SECURITY), {"tables": tables})
        ],
        "policies": [tuple(r) for r in connection.execute(text(_POLICIES), {"tables": tables})],
        "generated": [tuple(r) for r in connection.execute(text(_GENERATED), {"tables": tables})],
        "options": [tuple(r) for r in connection.execute(text(_OPTIONS), {"tables": tables})],
    }
