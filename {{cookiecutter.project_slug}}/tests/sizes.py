"""How long the long runs are: quick by default, full with `pytest --long`.

The randomized tests (the model-based test, the fuzzer) run fewer steps in
a developer's `pytest` and their full count with `--long`, which CI implies
(tests/conftest.py); an environment variable a test names overrides both.
"""

import os

# Set by tests/conftest.py's pytest_configure, before any test module is imported.
LONG = False


def size(variable, quick, full):
    """`variable` if it is set, else `full` with --long, else `quick`."""
    return int(os.environ.get(variable) or (full if LONG else quick))
