"""Operations mode: each public operation of the data layer next to the same SQL on the bare driver.

`python -m benchmarks.operations` builds a database of its own, loads it through
`crud.create_todos`, times each operation next to its raw-driver twin on the
blocking and (PostgreSQL) asyncio paths, checks the query plans, and reports
p50/p95/p99 against the targets. `run.py` is the command line.
"""
