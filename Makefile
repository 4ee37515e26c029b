# unitax: `make compile` builds generated/ from taxonomy/ (and builds/<name>/ from taxonomies/<name>/ for the
# other bundled taxonomies); `make test` runs the tests.
# Both create .venv/ from pyproject.toml on first use, so they work on a fresh machine:
# `make compile` installs only what compiling needs, `make test` adds the test extras and the CPU
# torch build. No target but `make browser` installs system packages (CI calls it explicitly).

# No built-in implicit rules: make would otherwise try ~40 pattern rules (%.c, RCS, SCCS...) for
# each of the ~500 spec and compiler files below, which made a no-change `make compile` take ~0.5 s.
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# the spec roots of every bundled taxonomy (runtime/bundled.py lists them: taxonomy/ -> generated/,
# taxonomies/<name>/ -> builds/<name>/)
SPECS := $(shell find taxonomy taxonomies -type f -name '*.yaml' -o -type f -name '*.json' -o -type f -name '*.tsv' 2>/dev/null)
# the docs templates shape generated/ too, so a template edit triggers a recompile
COMPILER := $(shell find compiler -type f \( -name '*.py' -o -path 'compiler/emit/templates/*' -o -path 'compiler/schemas/*' \) 2>/dev/null)

.PHONY: all venv compile check compare test test-fast test-taxonomy test-fork browser bench fuzz lint clean

all: compile

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# CPU torch for the torch-integration tests (the 2.13.0 CPU build ships on these machines);
	# where it cannot be installed those tests skip with a reason.
	$(BIN)/python -m pip install --quiet 'torch==2.13.0' || echo "torch not installable: torch tests will skip"
	touch $(TEST_STAMP)

venv: $(STAMP)

# Rebuilds only when a spec or the compiler changed; unitax itself leaves generated/
# untouched when the result is byte-identical, so the stamp records the last build. The
# comparisons between the bundled taxonomies (below) are refreshed from the new builds.
.make/compiled: $(STAMP) $(SPECS) $(COMPILER)
	$(BIN)/unitax compile --bundled --cache-dir .make/cache
	@$(MAKE) --no-print-directory compare
	@mkdir -p .make && touch $@

compile: .make/compiled

# Fails when a build is stale (`unitax check --bundled`) or a committed comparison is not what the
# builds give now.
check: $(STAMP)
	$(BIN)/unitax check --bundled
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; for p in $(COMPARE_PAIRS); do a=$${p%%:*}; b=$${p##*:}; \
	  $(BIN)/unitax compare $$a $$b -o $$tmp/$$a-vs-$$b > /dev/null 2>&1 || true; \
	  if ! diff -rq $$tmp/$$a-vs-$$b comparisons/$$a-vs-$$b > /dev/null 2>&1; then \
	    echo "comparisons/$$a-vs-$$b is stale: run make compile (or make compare)"; exit 1; fi; \
	  echo "ok: comparisons/$$a-vs-$$b is up to date"; done

# The committed comparison pages and translation tables between bundled taxonomies
# (comparisons/<a>-vs-<b>/: index.html, report.txt, report.json, the tables), from their builds;
# `make compile` runs it after building. `unitax compile` itself never needs another taxonomy.
COMPARE_PAIRS ?= mseg:ut mseg:rvc
compare: $(STAMP)
	@set -e; for p in $(COMPARE_PAIRS); do a=$${p%%:*}; b=$${p##*:}; \
	  $(BIN)/unitax compare $$a $$b -o comparisons/$$a-vs-$$b > /dev/null; \
	  grep -m2 -e ' -> .*: [0-9]* equal' comparisons/$$a-vs-$$b/report.txt; done

# The browser tests skip (saying `make browser`) where chromium is absent: installing it is
# `make browser`'s job alone, never a side effect of running the tests.
# The tests run on every core (pytest-xdist; each worker compiles the frozen MSeg copy once):
# `make test TEST_JOBS=0` runs them in this one process, `TEST_JOBS=N` on N workers. loadgroup: the tests
# of one xdist_group (those that build the checkout with pip) run in one worker, one at a time.
TEST_JOBS ?= auto
# A run writes ~100 MB of small files (spec copies, builds) to its temporary folders; on a disk each
# new file costs ~80 us of system time, on a RAM-backed /dev/shm a third of that (the fast suite's
# system time falls from ~25 s to ~9 s). So the tests' TMPDIR is /dev/shm where it exists and can hold
# programs (the wheel tests run scripts from their temporary venvs); your own TMPDIR wins.
# Recursive (=): probed only when a test target runs.
TEST_TMPDIR = $(or $(TMPDIR),$(shell d=$$(mktemp -d /dev/shm/unitax-probe.XXXXXX 2>/dev/null) && \
	printf '#!/bin/sh\n' > "$$d/x" && chmod +x "$$d/x" && "$$d/x" && echo /dev/shm; rm -rf "$$d"))
PYTEST = $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )$(BIN)/python -m pytest
test: $(TEST_STAMP)
	$(PYTEST) -q -n $(TEST_JOBS) --dist loadgroup

# Everything but the tests marked slow (CLI subprocesses en masse, processes compiling at once, Dask,
# pip installs, browser).
test-fast: $(TEST_STAMP)
	$(PYTEST) -q -n $(TEST_JOBS) --dist loadgroup -m "not slow"

# The tests of your taxonomy alone (taxonomy/ and generated/: they assert what holds for any valid
# taxonomy); every other test is a product test on the frozen MSeg copy in tests/fixtures/mseg-specs.
test-taxonomy: $(TEST_STAMP)
	$(PYTEST) -q -m "live_taxonomy and not slow"

# A user's edits, each in a fresh clone of the committed repository (tests/fork.py): the README's
# walkthroughs from its own code blocks, a definition changed, classes added and split, a dataset
# class renamed, a test dataset removed, a union mapping; each clone runs `make compile`,
# `unitax check --strict` and the tests of the user's taxonomy. The clones share .venv.
test-fork: $(TEST_STAMP)
	$(BIN)/python tests/fork.py

# Debian's chromium for the browser tests (tests/test_docs.py, tests/test_injection.py), installed
# with apt-get where we are root; run it explicitly (.ci/run does). A failure only means those
# tests skip (with the reason).
browser:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed: the browser tests will skip"; \
	else echo "chromium is absent (needs root and apt-get to install): the browser tests will skip"; fi

bench: $(TEST_STAMP)
	$(BIN)/python bench/run.py

# Fuzz for a minute each: the spec loader and validator (nothing but SpecError may escape), the
# runtime entry points and remap-dir on random trees (both against a plain-numpy reference), the
# native readers (COCO JSON, polygon JSON, split lists, names/colours files: only their error escapes),
# and the fast schema check against jsonschema (same verdict and problems on every document).
fuzz: $(TEST_STAMP)
	$(BIN)/python tests/fuzz_specs.py --seconds 60
	$(BIN)/python tests/fuzz_fastcheck.py --seconds 60
	$(BIN)/python tests/fuzz_runtime.py --seconds 60
	$(BIN)/python tests/fuzz_remap_dir.py --seconds 60
	$(BIN)/python tests/fuzz_native.py --seconds 60

clean:
	rm -rf $(VENV) .make .pytest_cache .hypothesis .lint

# ruff (lint + import order) over every folder of code, and mypy (strict for the runtime, the
# compiler and the tools), as configured in pyproject.toml; .ci/run runs it. mypy must see the
# package as it is installed (runtime/ is `unitax`, compiler/ `unitax.compiler`, tools/
# `unitax.tools`), which setuptools' package-dir mapping gives
# only through the editable install's import hook, and mypy does not run import hooks. So lint
# builds a throw-away tree of symlinks with the installed layout (.lint/unitax: one link per entry
# of runtime/, plus compiler and tools), checks the package there, and maps the reported paths back
# to the checkout's (.lint/unitax/compiler/x.py -> compiler/x.py, .lint/unitax/x.py -> runtime/x.py).
# MYPY_TARGETS picks what mypy checks, relative to .lint/: by default the whole package (runtime,
# compiler, tools); e.g. `make lint MYPY_TARGETS=unitax/taxonomy.py` checks one module.
MYPY_TARGETS ?= -p unitax
# The pinned lint tools, installed once: the stamp holds the pins it installed, so changing a pin
# here reinstalls them ($(file) reads it without starting a shell).
LINT_TOOLS := ruff==0.17.6 mypy==2.4.1 types-PyYAML==6.0.12.20261122
LINT_STAMP := $(VENV)/.installed-lint
ifneq ($(file <$(LINT_STAMP)),$(LINT_TOOLS))
.PHONY: $(LINT_STAMP)
endif
$(LINT_STAMP): $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet $(foreach t,$(LINT_TOOLS),'$(t)')
	printf '%s\n' '$(LINT_TOOLS)' > $@

lint: $(LINT_STAMP)
	$(BIN)/ruff check compiler tools runtime tests bench
	rm -rf .lint/unitax && mkdir -p .lint/unitax
	for f in runtime/*; do case "$$f" in */__pycache__) ;; *) ln -s "../../$$f" .lint/unitax/ ;; esac; done
	ln -s ../../compiler .lint/unitax/compiler && ln -s ../../tools .lint/unitax/tools
	cd .lint && ../$(BIN)/mypy --config-file ../pyproject.toml $(MYPY_TARGETS) > mypy.out 2>&1; rc=$$?; \
		sed -e 's|^unitax/compiler/|compiler/|' -e 's|^unitax/tools/|tools/|' -e 's|^unitax/|runtime/|' mypy.out; \
		exit $$rc
