"""Benchmarks: each module's ``run(quick)`` returns rows; ``python -m benchmarks`` prints them."""
