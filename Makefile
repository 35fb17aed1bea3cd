# migtool developer tasks (GNU make).
#
#   make test                      set up $(VENV) if needed, run the whole suite
#   make lint                      ruff + mypy
#   make demo                      run examples/demo.sh with $(VENV)/bin first on PATH
#   make test VENV=.venv-dj42 DJANGO='Django>=4.2,<5.0'
#   make test VENV=.venv-dj6 PYTHON=python3.12 DJANGO='Django>=6.0,<6.2'
#
# Backends for the integration tests are chosen by MIGTOOL_TEST_BACKENDS and
# MIGTOOL_REQUIRE_BACKENDS (see tests/conftest.py); they pass through from
# the environment unchanged.

PYTHON ?= python3
VENV ?= .venv
DJANGO ?=
PYTEST_ARGS ?=

BIN := $(abspath $(VENV))/bin
# The stamp's name carries a checksum of DJANGO, so asking for another Django
# in the same venv reinstalls instead of silently keeping the old one.
DJANGO_KEY := $(firstword $(shell printf '%s' '$(DJANGO)' | cksum))
STAMP := $(VENV)/.migtool-installed-$(DJANGO_KEY)
EXAMPLE_REQS := $(wildcard examples/requirements.txt)

.PHONY: install test test-fleet test-conformance lint demo clean bench bench-git-freeze bench-tenants

install: $(STAMP)

# Reinstall only when the venv is new or pyproject.toml / the example's
# requirements changed: a second `make test` starts pytest at once.
# mysqlclient compiles against libmariadb headers that a user's machine may
# lack; then we install everything else and the MariaDB tests report
# "driver missing" instead of the whole setup failing.
$(STAMP): pyproject.toml $(EXAMPLE_REQS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.migtool-installed-*
	@echo "== installing migtool into $(VENV) $(if $(DJANGO),with '$(DJANGO)')"
	@if $(BIN)/python -m pip install --quiet -e '.[postgres,mysql,test,lint]' \
	        $(if $(DJANGO),'$(DJANGO)') > $(VENV)/pip-install.log 2>&1; then \
	    echo "== installed (log: $(VENV)/pip-install.log)"; \
	else \
	    tail -n 15 $(VENV)/pip-install.log; \
	    echo ""; \
	    echo "WARNING: installing with the 'mysql' extra (mysqlclient) failed; see $(VENV)/pip-install.log."; \
	    echo "WARNING: MariaDB/MySQL tests will be SKIPPED (driver missing). On Debian/Ubuntu:"; \
	    echo "WARNING:     sudo apt-get install libmariadb-dev pkg-config && rm -rf $(VENV) && make test"; \
	    echo ""; \
	    $(BIN)/python -m pip install --quiet -e '.[postgres,test,lint]' $(if $(DJANGO),'$(DJANGO)') \
	        >> $(VENV)/pip-install.log 2>&1 || { tail -n 30 $(VENV)/pip-install.log; exit 1; }; \
	fi
	@$(if $(EXAMPLE_REQS),$(BIN)/python -m pip install --quiet -r $(EXAMPLE_REQS))
	@$(BIN)/python -c 'import django, sys; print(f"== Python {sys.version.split()[0]}, Django {django.__version__}")'
	@touch $@

test: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

# The conformance suite against Django with its large budget, and every public and fixed shape
# on every backend (make test runs 2 generated examples per backend and lean shapes; see README).
#   make test-conformance CONFORMANCE_EXAMPLES=200
CONFORMANCE_EXAMPLES ?= 40
test-conformance: $(STAMP)
	PATH="$(BIN):$$PATH" MIGTOOL_CONFORMANCE_EXAMPLES=$(CONFORMANCE_EXAMPLES) $(BIN)/python -m pytest \
	    tests/integration/test_conformance.py tests/integration/test_public_shapes.py \
	    tests/integration/test_replaced_dependencies.py $(PYTEST_ARGS)

# The fleet tests on every backend (make test runs most of them on SQLite only).
test-fleet: $(STAMP)
	PATH="$(BIN):$$PATH" MIGTOOL_FLEET_MATRIX=1 $(BIN)/python -m pytest tests/integration/test_fleet.py tests/integration/test_fleet_schemas.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check migtool tests
	$(BIN)/ruff format --check migtool tests
	$(BIN)/mypy

demo: $(STAMP)
	PATH="$(BIN):$$PATH" bash examples/demo.sh

# Benchmark against stock Django (issue #6): small+large presets on SQLite, and
# PostgreSQL when reachable; prints a table and writes tests/bench/out/latest.json.
#   make bench BENCH_ARGS='--preset huge --runs 3'
#   make bench BENCH_ARGS='--preset small --backends sqlite --groups read'
bench: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python tests/bench/run.py $(BENCH_ARGS)

# freeze --git-tags on a generated repository (issue #16); wall and CPU time per tag.
#   make bench-git-freeze BENCH_ARGS='--preset huge --tags 40'
bench-git-freeze: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python tests/bench/git_freeze.py $(BENCH_ARGS)

# Schema-per-tenant benchmark (issue #12): migtool against django-tenants'
# migrate_schemas (standard, multiprocessing) on a django-tenants fleet on PostgreSQL.
#   make bench-tenants TENANTS_ARGS='--schemas 50,200 --noop-only 1000 --jobs 2'
TENANTS_ARGS ?= --schemas 10
bench-tenants: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python tests/bench/tenants.py $(TENANTS_ARGS)

clean:
	rm -rf .venv .venv-*/ .pytest_cache .hypothesis .mypy_cache .ruff_cache build *.egg-info
