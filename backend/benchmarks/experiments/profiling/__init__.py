"""Where a package call spends its time: `python -m benchmarks.experiments.profiling`.

`run.py` is the command line, `decompose.py` splits a call into driver time and
the rest, `costs.py` measures single costs and their alternatives.
"""
