# sweep — every target installs what it needs: a fresh machine needs only Python 3.11+ and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
OUT ?= sweep-results
DIST ?= dist

# uv from PATH, else a private copy in .tools/ (.tools/bin/uv; no system Python is modified).
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
STACK ?= dev
# Pulumi (`toolchain: uv`) finds uv on PATH only: put this uv first; the program takes the prebuilt artifacts.
WITH_UV := PATH="$(dir $(UV)):$$PATH" SWEEP_ARTIFACTS_DIR="$(CURDIR)/build/lambda"

.PHONY: help install run dist test test-fast test-browser test-long test-llm lint format bench mutation package openapi preflight preview deploy e2e clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# With the host Python's pip, uv's wheel is unpacked into .tools/uv (`--target`: no venv, nothing else touched;
# any pip has it) and .tools/bin/uv links to its binary: a venv with ensurepip took 24-51 s of a cold `make run`
# at load 8-10 (issue 23, bench/RESULTS.md). Without a pip (or if that install fails), a venv as before.
$(CURDIR)/.tools/bin/uv:
	@echo "uv not found: installing it into .tools/"
	@if $(PYTHON) -m pip --version >/dev/null 2>&1 \
	    && $(PYTHON) -m pip install --quiet --disable-pip-version-check --no-warn-script-location --target .tools/uv uv \
	    && [ -x .tools/uv/bin/uv ]; then \
	    mkdir -p .tools/bin && ln -sf ../uv/bin/uv .tools/bin/uv; \
	else \
	    rm -rf .tools && $(PYTHON) -m venv .tools \
	    && .tools/bin/python -m pip install --quiet --disable-pip-version-check uv; \
	fi

# --inexact: packages the user installed next to sweep (their experiments) stay; `uv run` never removes any.
# Bytecode, because a process that finds no .pyc compiles every module it imports, every time it starts, when
# it may not write one (PYTHONDONTWRITEBYTECODE=1, as on this project's machines): `import sweep_worker.handler`
# took 0.7 s without and 0.4 s with. uv compiles the third-party packages (the first sync pays ~1.5 min on
# 2 cores, later ones ~1 s; not `compile-bytecode` in pyproject.toml: every `uv run` would pay that second).
# The workspace members are editable installs, so uv leaves their sources alone: compileall does them, with
# checked-hash pycs, which stay valid when git touches a file without changing it and are ignored (the source
# compiled instead) when it does change.
# The distributions were renamed sweep-* → sweepkit-* (issue 23: the old names are other projects' on PyPI).
# `--inexact` keeps what it did not install, so a .venv from before would keep them, and every built-in
# experiment twice: they go first (not after the sync, which their records would undo: both ship `bin/sweep`).
OLD_DISTS := sweep-workspace sweep-contracts sweep-experiments sweep-orchestrator sweep-worker sweep-cli sweep-aws sweep-infra
UNINSTALL_OLD := if [ -d .venv ]; then $(UV) pip uninstall --quiet --python .venv $(OLD_DISTS) 2>/dev/null || true; fi

install: $(UV) ## Create .venv with every package and dev tool as uv.lock pins them; keeps packages you added
	@$(UNINSTALL_OLD)
	$(UV) sync --frozen --inexact --compile-bytecode
	$(UV) run --frozen --no-sync python -m compileall -q --invalidation-mode checked-hash \
	    libs/*/src services/*/src cli/src pulumi/src

# Only what a local run needs: the CLI without its extras and no dev group (issue 23: the full sync is 176
# packages and 1.5 GB). `--inexact` leaves what `make install` added, and `make test` adds it after this.
run: $(UV) ## Run the example sweep locally (examples/maze.yaml) and print its summary; installs only what that needs
	@$(UNINSTALL_OLD)
	$(UV) sync --frozen --inexact --no-dev --package sweepkit-cli
	$(UV) run --frozen --no-sync sweep run examples/maze.yaml --out $(OUT)

dist: $(UV) ## Build the wheels of every package into dist/ (DIST=…), to install sweep in your own project: docs/install.md
	rm -rf $(DIST)
	$(UV) build --all-packages --wheel --out-dir $(DIST)

# pytest-xdist: one worker more than there are cores (PYTEST_WORKERS=0 runs in this process): a third of a
# worker's time is spent waiting (on sockets, time limits and child processes; measured per test as wall time
# less its own and its children's CPU), which a third worker fills on 2 cores: `make test-fast` 2:41-2:51 with
# 3 workers, 3:01-3:23 with 2, 3:01 with 4. --dist loadfile keeps a file's tests, and its module fixtures, on
# one worker.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")
XDIST = -n $(PYTEST_WORKERS) --dist loadfile
# pytest keeps each test module with its asserts rewritten in __pycache__ only when it may write bytecode:
# with PYTHONDONTWRITEBYTECODE=1 (as on this project's machines) every worker of every run rewrote and compiled
# all ~440 test and plugin modules again, 5 s of a worker's 12 s start. The variable empty is Python's default.
PYTEST = PYTHONDONTWRITEBYTECODE= $(UV) run --frozen pytest

test: install ## Run the unit and functional tests (on every core)
	$(PYTEST) $(XDIST)

# -m replaces pyproject's `-m "not long and not llm"`, so it repeats it
test-fast: install ## The inner loop (< 3 min): `make test` without the tests marked slow (subprocesses, pools, builds)
	$(PYTEST) -q $(XDIST) -m "not slow and not long and not llm"

test-browser: install ## The report rendered in a real headless Chromium (installs the Debian package if missing)
	scripts/chromium.sh >/dev/null
	SWEEP_REQUIRE_BROWSER=1 $(PYTEST) -m browser

test-long: install ## The long tier: 10,000 bad API bodies, 2,520 bad sweep files (a subprocess per kind), schemathesis
	$(PYTEST) $(XDIST) -m long

test-llm: install ## Real-model tier: build/start llama.cpp + SmolLM2 (cached), run tests/llm
	scripts/llm-server.sh build
	$(PYTEST) tests/llm -m llm

lint: install ## ruff (lint + format check), mypy --strict, dependency audit and secret scan
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs services cli pulumi/src
	UV=$(UV) $(UV) run --frozen python tools/security.py

format: install ## Format and auto-fix
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: install ## Run the benchmarks and rewrite bench/RESULTS.md
	$(UV) run --frozen python bench/run.py

mutation: install ## Mutation testing of points, planning, tasks, worker runner (slow; MUTATION_SAMPLE=25 bounds it)
	$(UV) run --frozen python bench/mutation.py

package: install ## Build the Lambda artifacts (aarch64, CPython 3.12) into build/lambda, with STACK's experiment packages
	$(UV) run --frozen python -m sweep_infra.packaging --out build/lambda --stack $(STACK)

openapi: install ## Regenerate docs/openapi.json from the API's routes
	$(UV) run --frozen python -m sweep_orchestrator.openapi > docs/openapi.json

preflight: install ## Check the Pulumi CLI, uv, AWS credentials and Lambda concurrency for STACK (default dev)
	$(WITH_UV) $(UV) run --frozen python -m sweep_infra.preflight --stack $(STACK)

preview: preflight package ## Preflight, build the artifacts, then pulumi preview (STACK=dev by default)
	$(WITH_UV) pulumi preview --stack $(STACK)

deploy: preflight package ## Preflight, build the artifacts, then pulumi up (STACK=dev by default)
	$(WITH_UV) pulumi up --stack $(STACK)

e2e: install ## Test a deployed stage (opt-in): SWEEP_E2E_STAGE=dev make e2e
	$(PYTEST) tests/e2e -m e2e -v

clean: ## Remove the environment, caches and local results: says what, asks first (YES=1: without asking)
	@YES="$(YES)" bash scripts/clean.sh "$(OUT)"
