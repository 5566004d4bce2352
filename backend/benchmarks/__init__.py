"""Latency benchmark of the data layer's public operations against raw driver SQL.

`python -m benchmarks.run` builds a database of its own, loads it through
`crud.create_todos`, times each operation next to the same SQL sent through the
bare driver, checks the query plans, and reports p50/p95/p99 and the targets.
`python -m benchmarks.profiling` shows where a `list_todos` call spends its time.
"""
