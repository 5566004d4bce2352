"""Service mode: the example FastAPI service under load, against a peer and the raw-driver limit.

`python -m benchmarks.service` runs each variant under uvicorn through the
tests' Neon-like stand-in. `run.py` is the command line, `stack.py` the
databases and cost probes, `load.py` the users, `report.py` the figures;
`peer.py` and `raw.py` are the two services measured beside the example's.
"""
