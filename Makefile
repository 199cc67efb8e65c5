# symphony — the two README commands are `make render` and `make test`.
# Each creates the virtual environment and installs system packages itself.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# What `make render` renders: every score in scores/ plus the album file joining the six
# chapters (renders/album.wav), or one score with SCORE=scores/<file>.toml
SCORE  ?=
RENDER_FLAGS ?=
PYTEST_FLAGS ?=

.PHONY: render test setup system-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,plot]'
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

setup: system-deps $(VENV)/.installed

render: setup
ifeq ($(SCORE),)
	$(BIN)/symphony render --album scores/*.toml --out-dir renders $(RENDER_FLAGS)
else
	$(BIN)/symphony render $(SCORE) --out-dir renders $(RENDER_FLAGS)
endif

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_FLAGS)

clean:
	rm -rf $(VENV) renders/*.wav renders/*.flac renders/*.stems .pytest_cache

# Regenerate the golden fingerprints (tests/golden/) of every score, or of SCORE=...
# Only when a change to the music is intended; commit them with that change.
.PHONY: goldens
goldens: setup
	$(BIN)/symphony fingerprint --update-golden $(SCORE) --golden-dir tests/golden

# Benchmarks (docs/benchmarks.md): symphony vs Csound, album speed, live headroom, memory,
# parallel render. Installs Csound itself. Slow (~30 min); BENCH_FLAGS=--quick for a
# short check. Results: benchmarks/results/latest.json, tables in docs/benchmarks.md.
BENCH_FLAGS ?=
.PHONY: bench
bench: setup
	bash scripts/install-system-deps.sh bench
	$(BIN)/python benchmarks/bench.py --write-doc $(BENCH_FLAGS)
