"""Read-replicas mode: read latency and the replica's share, with and without a replica.

`python -m benchmarks.replicas` starts its own primary and hot standby
(`tests.standins.replica_local`); `run.py` is the command line.
"""
