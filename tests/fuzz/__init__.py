"""Fuzzing of every parser that takes outside text or files (issue 11).

``targets`` holds the contract, one target per parser and the hypothesis strategies; the suite
(``tests/test_fuzz.py``), the longer bounded run (``run_hypothesis.py``) and the coverage-guided
run (``run_atheris.py``) all use it, so they test the same thing.
"""
