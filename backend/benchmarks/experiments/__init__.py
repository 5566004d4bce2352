"""One-off measurements behind past decisions, kept so each can be run again.

Each is a command of its own (`python -m benchmarks.experiments.<name>`) whose
figures are printed, never judged; research.md records the runs and what was
decided from them. None runs in CI.
"""
