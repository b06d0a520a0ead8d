"""Benchmarks, kept out of the test suite: each module's ``run(quick)`` returns ``Row``s.

``python -m benchmarks`` runs them all and prints one table of figure, target,
measured value and baseline; they may import anything in the project.
"""
