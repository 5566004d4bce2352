"""`python -m benchmarks.login_timing`: see `run.py`."""

from benchmarks.login_timing.run import main

raise SystemExit(main())
