"""Benchmarks of the data layer: one package per mode, shared code in `common`; README.md maps them.

- `python -m benchmarks.operations`: each public operation next to the same SQL on the bare driver.
- `python -m benchmarks.round_trips`: round trips per request, counted through a proxy.
- `python -m benchmarks.service`: the example service under load, against a peer and the raw driver.
- `python -m benchmarks.login_timing`: login times by kind of account.

`experiments` holds one-off measurements behind past decisions.
"""
