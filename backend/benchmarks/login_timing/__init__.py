"""Logins mode: how long a login takes for each kind of account; the times must not tell them apart.

`python -m benchmarks.login_timing`; `run.py` is the command line.
"""
