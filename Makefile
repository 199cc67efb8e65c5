# symphony — the two README commands are `make render` and `make test`.
# Each creates the virtual environment and installs system packages itself.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# What `make render` renders: every score, or one chapter with SCORE=scores/<file>.toml
SCORE  ?= scores/*.toml
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
	$(BIN)/symphony render $(SCORE) --out-dir renders $(RENDER_FLAGS)

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_FLAGS)

clean:
	rm -rf $(VENV) renders/*.wav renders/*.flac renders/*.stems .pytest_cache
