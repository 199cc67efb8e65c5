"""Hypothesis profiles of the fault tests: ``symphony-ci`` (bounded, the default) and
``symphony-long`` (``pytest --fuzz-long``, an option registered in tests/conftest.py).
No environment switches; other test folders keep their own settings."""

from __future__ import annotations

from tests.faults import helpers


def pytest_configure(config):
    helpers.FUZZ_LONG[0] = bool(config.getoption("--fuzz-long", default=False))
