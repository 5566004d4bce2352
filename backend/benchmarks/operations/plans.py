"""Query plans of the SQL the package really sends, captured during one call.

Statements and parameters are taken from SQLAlchemy's `before_cursor_execute`
event, so what is explained is exactly what the driver received. PostgreSQL
replays the statements sent before the query (e.g. `set_config` naming the
user to row security), runs the query under EXPLAIN (ANALYZE, BUFFERS) and
rolls back, so an explained UPDATE changes nothing; SQLite gets EXPLAIN QUERY
PLAN. A plan passes when an index answers it: no Seq Scan of `todo`, no Sort.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event

from benchmarks.operations.raw import RawDriver

INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}
AGGREGATES = {"Sorted": "GroupAggregate", "Hashed": "HashAggregate", "Mixed": "MixedAggregate"}
# The policy's test as EXPLAIN prints it, shortened in the report.
ROW_SECURITY = re.compile(
    r"\(\(NULLIF\(current_setting\('([^']+)'::text, true\), ''::text\)\)::bigint = (\d+)\)"
)
SHORT_ROW_SECURITY = r"[row security: \1 = \2]"
Statement = tuple[str, Any]  # SQL text as the driver got it, and its parameters


@dataclass(frozen=True, slots=True)
class Plan:
    summary: str  # e.g. "Limit -> Index Scan Backward using ix_todo_user_id_created_at_id"
    index_only: bool
    ok: bool  # uses an index, no sequential scan of todo, no sort
    detail: str  # rows, buffers and time (PostgreSQL)
    statements: int  # statements the package sent for the call (BEGIN/COMMIT not counted)


def captured(engine: Engine, call: Callable[[], object]) -> list[Statement]:
    """Every statement `call` sent through the driver, in order, with its parameters."""
    seen: list[Statement] = []

    def listener(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


_NAMING = re.compile(r"^SET LOCAL (\S+) = '\d+'; ")


def act_as_setting(statements: list[Statement]) -> str | None:
    """The setting in which the package names the user (`SET LOCAL`, ahead of a statement)."""
    for statement, _ in statements:
        if found := _NAMING.match(statement):
            return found.group(1)
    return None


def explain(raw: RawDriver, statements: list[Statement]) -> Plan:
    """The plan of the last statement on `todo`, after replaying those sent before it."""
    main = max(i for i, (text, _) in enumerate(statements) if "todo" in text)
    count = sum(text.strip().upper() not in ("BEGIN", "COMMIT") for text, _ in statements)
    if not raw.postgres:
        return _sqlite(raw, *statements[main], count=count)
    cursor = raw.connection.cursor()
    try:
        cursor.execute("BEGIN")  # the naming must hold for the EXPLAIN: one transaction
        for text, parameters in statements[:main]:
            cursor.execute(text, parameters)
        text, parameters = statements[main]
        if naming := _NAMING.match(text):  # sent apart: EXPLAIN takes one statement
            cursor.execute(naming.group(0).rstrip("; "))
            text = text[naming.end() :]
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + text, parameters)
        document = cursor.fetchone()[0][0]
    finally:
        cursor.close()
        raw.end()  # an explained UPDATE really ran: undo it
    return _summarise(document, count=count)


def _summarise(document: dict[str, Any], *, count: int) -> Plan:
    top = document["Plan"]
    nodes = list(_walk(top))
    scans = [n for n in nodes if "Scan" in n["Node Type"]]
    seq_scan = any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "todo" for n in nodes)
    sort = any("Sort" in n["Node Type"] for n in nodes)
    detail = (
        f"rows={top['Actual Rows']}, shared hit={top.get('Shared Hit Blocks', 0)}"
        f" read={top.get('Shared Read Blocks', 0)}, planning {document['Planning Time']:.3f} ms,"
        f" execution {document['Execution Time']:.3f} ms"
    )
    if any(n["Node Type"] == "Index Only Scan" for n in scans):
        detail += f", heap fetches={sum(n.get('Heap Fetches', 0) for n in scans)}"
    for node in nodes:
        for key in ("One-Time Filter", "Filter"):
            if key in node:
                condition = ROW_SECURITY.sub(SHORT_ROW_SECURITY, str(node[key]))
                detail += f", {key.lower()} {condition}"
    return Plan(
        summary=" -> ".join(_describe(n) for n in nodes),
        index_only=bool(scans) and all(n["Node Type"] == "Index Only Scan" for n in scans),
        ok=any(n["Node Type"] in INDEX_SCANS for n in nodes) and not seq_scan and not sort,
        detail=detail,
        statements=count,
    )


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def _describe(node: dict[str, Any]) -> str:
    text = str(node["Node Type"])
    if text == "Aggregate":
        text = AGGREGATES.get(str(node.get("Strategy")), text)
    if text == "ModifyTable" and node.get("Operation"):
        text = str(node["Operation"])
    if node.get("Scan Direction") == "Backward":
        text += " Backward"
    if "Index Name" in node:
        return f"{text} using {node['Index Name']}"
    if "Relation Name" in node:
        return f"{text} on {node['Relation Name']}"
    return text


def _sqlite(raw: RawDriver, statement: str, parameters: Any, *, count: int) -> Plan:
    rows = raw.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
    details = [str(row[3]) for row in rows]
    on_todo = [d for d in details if " todo " in f"{d} "]
    return Plan(
        summary="; ".join(details),
        index_only=bool(on_todo) and all("COVERING INDEX" in d for d in on_todo),
        ok=bool(on_todo)
        and all(d.startswith("SEARCH") for d in on_todo)
        and not any("TEMP B-TREE" in d for d in details),
        detail="—",  # EXPLAIN QUERY PLAN neither runs nor times the query
        statements=count,
    )
