"""The examples of docs/api.md and the API modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_docs_api_md_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(str(REPO / "docs" / "api.md"), module_relative=False, optionflags=FLAGS,
                              verbose=False)
    assert result.attempted >= 30  # the page really has its examples
    assert result.failed == 0


@pytest.mark.parametrize("module", ["symphony.api", "symphony.manifest"])
def test_module_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=FLAGS, verbose=False)
    assert result.attempted >= 2
    assert result.failed == 0
