"""Module boundaries: imports point downward only (STYLE.md, "Module boundaries").

Walks every module's AST and checks what it imports, so a stray ``import pyo`` in the DSP
core or ``import click`` outside the CLI fails the suite.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symphony"

#: module prefix -> top-level packages it may import (besides the stdlib)
ALLOWED = {
    "symphony/dsp/": {"numpy", "scipy", "numba", "symphony.dsp", "symphony.errors", "symphony.params"},
    "symphony/score/": {"numpy", "symphony.score", "symphony.errors", "symphony.params"},
    "symphony/instruments/": {"numpy", "scipy", "numba", "symphony.dsp", "symphony.errors",
                              "symphony.params", "symphony.instruments"},
}
ONLY_IN = {  # third-party module -> the only files that may import it
    "click": {"symphony/cli.py"},
    "pyo": {"symphony/live.py", "symphony/live"},
    "pyo64": {"symphony/live.py", "symphony/live"},
    "soundfile": {"symphony/render.py", "symphony/album.py", "symphony/fingerprint", "symphony/live.py", "symphony/live",
                  "symphony/plot.py", "symphony/measure.py"},
    "matplotlib": {"symphony/plot.py"},
    "mido": {"symphony/midi"},
}
THIRD_PARTY = {"numpy", "scipy", "numba", "soundfile", "click", "pyo", "pyo64", "matplotlib", "mido"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE.parent).as_posix())
def test_imports_point_downward(path: Path) -> None:
    rel = path.relative_to(PACKAGE.parent).as_posix()
    imports = _imports(path)
    for prefix, allowed in ALLOWED.items():
        if rel.startswith(prefix):
            bad = {name for name in imports
                   if (name.split(".")[0] in THIRD_PARTY or name.startswith("symphony"))
                   and not any(name == a or name.startswith(a + ".") for a in allowed)}
            assert not bad, f"{rel} may not import {sorted(bad)} (allowed: {sorted(allowed)})"
    for module, owners in ONLY_IN.items():
        if any(name == module or name.startswith(module + ".") for name in imports):
            assert any(rel == owner or rel.startswith(owner + "/") for owner in owners), \
                f"only {sorted(owners)} may import {module}; {rel} does"


def test_the_rules_see_real_imports() -> None:
    """The walker must actually find imports (a broken walker would pass everything)."""
    assert "click" in _imports(PACKAGE / "cli.py")
    assert "numpy" in _imports(PACKAGE / "dsp" / "base.py")
