"""Generated documentation stays in step with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_instruments_doc_is_current():
    spec = importlib.util.spec_from_file_location("make_doc", REPO / "scripts" / "make_instruments_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (REPO / "docs" / "instruments.md").read_text(encoding="utf-8")
    assert committed == module.build(), "docs/instruments.md is stale: run scripts/make_instruments_doc.py"
