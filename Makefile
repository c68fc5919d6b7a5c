# Two commands for everything (see README.md):
#   make demo   bake a project with the defaults and run its development server
#   make test   run the template's whole test suite
#   make lock   recompile the generated project's lock, requirements.txt
#   make test-newest  the generated suite on the newest releases inside the ranges
# Needs Python 3.11+ with the venv module (Debian/Ubuntu: python3-venv) and make.

PYTHON ?= python3
VENV := .venv
BUILD := build
DEMO_DIR := $(BUILD)/demo
HOST := 127.0.0.1
PORT := 8000
# Extra pytest arguments, e.g. make test PYTEST_ARGS='-m "not slow"'
PYTEST_ARGS ?=
# Processes that run the tests (pytest-xdist): each installed bake's tests
# stay in one (--dist loadgroup), so its venv is made once. JOBS=0: no xdist.
JOBS ?= 2
# Other Pythons that make test bakes the default project with, besides
# $(PYTHON): commands or paths, e.g. PYTHONS="python3.12 /opt/py313/bin/python3".
# Empty: each python3.11 ... python3.14 on PATH or in pyenv (tests/pythons.py).
PYTHONS ?=
export PYTHONS

.PHONY: demo test lint clean lock test-newest

# The tooling venv: cookiecutter, pytest, pytest-cookies, ruff (pyproject.toml's `test` extra).
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "error: $(PYTHON) is older than Python 3.11; run make PYTHON=python3.12 (or another 3.11+)" >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) \
		|| { rm -rf $(VENV); echo "error: '$(PYTHON) -m venv' failed. On Debian/Ubuntu: sudo apt-get install python3-venv" >&2; exit 1; }
	$(VENV)/bin/python -m pip install --quiet ".[test]"
	@touch $@

demo: $(VENV)/.installed
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	@project=$$(dirname $(DEMO_DIR)/*/manage.py) && cd $$project \
		&& echo "Installing $$project into $$project/.venv ..." \
		&& $(PYTHON) -m venv .venv \
		&& .venv/bin/python -m pip install --quiet -r requirements.txt \
		&& .venv/bin/python -m pip install --quiet --no-deps -e . \
		&& .venv/bin/python manage.py migrate --verbosity 0 \
		&& echo "" \
		&& .venv/bin/python manage.py demo_data \
		&& echo "  $$project runs on SQLite and the in-memory channel layer." \
		&& echo "  Open http://$(HOST):$(PORT)/ (stop with Ctrl-C)." \
		&& echo "" \
		&& exec .venv/bin/python manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest tests/ $(if $(filter-out 0,$(JOBS)),-n $(JOBS) --dist loadgroup) $(PYTEST_ARGS)

# The generated project's lock, {{cookiecutter.project_slug}}/requirements.txt:
# compiled in a bake (pyproject.toml is templated) with the command its header
# names, the pins already there kept unless the ranges exclude them. UPGRADE=1
# moves every pin to the newest release inside the ranges.
LOCK_DIR := $(BUILD)/lock
LOCK := {{cookiecutter.project_slug}}/requirements.txt
lock: $(VENV)/.installed
	rm -rf $(LOCK_DIR)
	$(VENV)/bin/cookiecutter --no-input --output-dir $(LOCK_DIR) .
	@project=$$(dirname $(LOCK_DIR)/*/manage.py) && cd $$project \
		&& $(CURDIR)/$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal \
			--python-version 3.11 --generate-hashes --no-annotate $(if $(UPGRADE),--upgrade) \
			--output-file requirements.txt --quiet \
		&& cp requirements.txt "$(CURDIR)/$(LOCK)"
	@echo "$(LOCK) compiled; commit it."

# The canary: the default bake on the newest releases inside its ranges (a
# fresh pip install -e ".[dev]", as a user without the lock gets), then its
# suite (PYTEST_ARGS apply). Lists the packages that differ from the lock
# first, and again if the suite fails: the suspects. `make test` stays locked.
NEWEST_DIR := $(BUILD)/newest
test-newest: $(VENV)/.installed
	rm -rf $(NEWEST_DIR)
	$(VENV)/bin/cookiecutter --no-input --output-dir $(NEWEST_DIR) .
	@project=$$(dirname $(NEWEST_DIR)/*/manage.py) && cd $$project \
		&& $(PYTHON) -m venv .venv \
		&& .venv/bin/python -m pip install --quiet -e ".[dev]" \
		&& .venv/bin/python scripts/newest_vs_lock.py > newest-vs-lock.md \
		&& cat newest-vs-lock.md && echo "" \
		&& { .venv/bin/python -m pytest $(PYTEST_ARGS) \
			|| { echo "" >&2; echo "make test-newest: FAILED on the newest releases. Not in the lock:" >&2; \
				cat newest-vs-lock.md >&2; exit 1; }; }

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check hooks tests
	$(VENV)/bin/ruff format --check hooks tests

clean:
	rm -rf $(VENV) $(BUILD) .pytest_cache .ruff_cache
	find hooks tests -name __pycache__ -type d -prune -exec rm -rf {} +
