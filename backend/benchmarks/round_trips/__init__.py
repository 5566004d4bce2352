"""Round-trips mode: how many times a request waits on the network, per operation.

`python -m benchmarks.round_trips` counts them through a TCP proxy of its own
(`tests.standins.round_trip_proxy`); `run.py` is the command line.
"""
