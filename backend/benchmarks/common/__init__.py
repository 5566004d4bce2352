"""What every benchmark mode shares, written once.

`database` makes the run's own database (and the plain role row security needs),
`measure` and `measure_async` time two sides in alternating blocks and summarise
samples as percentiles, `charts` writes PNG files without a display.
"""
