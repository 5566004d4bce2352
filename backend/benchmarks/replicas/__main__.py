"""`python -m benchmarks.replicas`: see `run.py`."""

from benchmarks.replicas.run import main

main()
