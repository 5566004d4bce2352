"""`python -m benchmarks.round_trips`: see `run.py`."""

from benchmarks.round_trips.run import main

main()
