"""`python -m bench`, from the project folder: see cli.py and BENCHMARKS.md."""

import sys

try:
    from bench.cli import main
except ModuleNotFoundError as exc:
    # The tool's own dependencies are an extra, not the project's.
    if exc.name not in ("rich", "websockets"):
        raise
    sys.exit(f'python -m bench needs {exc.name}: pip install -e ".[bench]"')

if __name__ == "__main__":
    sys.exit(main())
