"""`python -m benchmarks.operations`: see `run.py`."""

from benchmarks.operations.run import main

raise SystemExit(main())
