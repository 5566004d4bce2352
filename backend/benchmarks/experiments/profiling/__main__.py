"""`python -m benchmarks.experiments.profiling`: see `run.py`."""

from benchmarks.experiments.profiling.run import main

raise SystemExit(main())
