"""What the tests and benchmarks start in place of the real thing; README.md says what each is."""
