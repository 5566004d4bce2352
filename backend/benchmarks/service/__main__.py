"""`python -m benchmarks.service`: see `run.py`."""

from benchmarks.service.run import main

raise SystemExit(main())
