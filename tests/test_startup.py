"""Start-up cost of ``symphony render``: what the command imports.

Every module a render imports is paid for by every ``symphony render`` process (the
reference benchmark of docs/benchmarks.md counts whole processes). The render command
must not import the live player (pyo), plotting (matplotlib), MIDI (mido) or the
fingerprint code unless it is asked for them. Checked for real: a fresh interpreter runs
the command and reports its ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, SMALL_SCORE, write_score

#: Run ``symphony render`` in this interpreter (not via the shell), then print the names of
#: every imported module as JSON on the last line of stdout.
DRIVER = """
import json, sys
from symphony.cli import main
try:
    main(sys.argv[1:], prog_name="symphony", standalone_mode=False)
finally:
    print()
    print(json.dumps(sorted(sys.modules)))
"""

#: Modules (and their submodules) that a plain render must not load.
NOT_FOR_RENDER = ("pyo", "pyo64", "matplotlib", "mido", "symphony.live", "symphony.fingerprint",
                  "symphony.plot", "symphony.midi.read", "symphony.midi.write",
                  "scipy.signal")  # ~1 s of CPU per process (scipy 1.17), see firwin_kaiser


def _render_modules(tmp_path: Path, *options: str) -> set[str]:
    score = write_score(tmp_path, SMALL_SCORE)
    proc = subprocess.run([sys.executable, "-c", DRIVER, "render", str(score), "--out-dir",
                           str(tmp_path / "out"), *options],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "score.wav").stat().st_size > 44  # it really rendered
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _loaded(modules: set[str], name: str) -> list[str]:
    return sorted(m for m in modules if m == name or m.startswith(name + "."))


@pytest.fixture(scope="module")
def plain_render(tmp_path_factory) -> set[str]:
    return _render_modules(tmp_path_factory.mktemp("plain"))


@pytest.mark.parametrize("name", NOT_FOR_RENDER)
def test_render_does_not_import(plain_render: set[str], name: str) -> None:
    assert not _loaded(plain_render, name), f"`symphony render` imported {_loaded(plain_render, name)}"


def test_render_imports_what_it_uses(plain_render: set[str]) -> None:
    """Control: the module list is the render's (so an empty list cannot pass the test above)."""
    for name in ("symphony.render", "symphony.conductor", "symphony.manifest", "numba", "soundfile"):
        assert _loaded(plain_render, name), f"{name} missing from {len(plain_render)} modules"


def test_fingerprint_imported_only_when_asked(tmp_path: Path, plain_render: set[str]) -> None:
    """Control: ``--fingerprint`` does load the fingerprint code, so its absence above is real."""
    modules = _render_modules(tmp_path, "--fingerprint")
    assert _loaded(modules, "symphony.fingerprint")
    assert (tmp_path / "out" / "score.fp").exists()
    assert not _loaded(modules, "symphony.live") and not _loaded(modules, "pyo")


#: Builds every shipped score's orchestra, runs two blocks of it, every bus effect and the
#: master chain once, then prints the loaded modules (as DRIVER).
SCORES_DRIVER = """
import json, sys
import numpy as np
from symphony.api import load_score
from symphony.conductor import Conductor
for path in sys.argv[1:]:
    c = Conductor(load_score(path))
    for _ in c.blocks(4096, end_frame=8192):
        pass
    for bus in c.orchestra.buses:
        bus.process(np.full((2, 512), 0.1), 0)
    c.master_chain().process(np.full((2, 512), 0.1))
print(json.dumps(sorted(sys.modules)))
"""


def test_no_shipped_score_imports_scipy_signal() -> None:
    """Every instrument and effect the album uses builds and runs without scipy.signal
    (a plain render of SMALL_SCORE does not reach the organ or the saturation bus)."""
    scores = sorted(str(p) for p in (REPO / "scores").glob("*.toml"))
    assert len(scores) >= 6
    proc = subprocess.run([sys.executable, "-c", SCORES_DRIVER, *scores], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert _loaded(modules, "symphony.instruments.organ") and _loaded(modules, "symphony.dsp.effects")
    assert not _loaded(modules, "scipy.signal")


@pytest.mark.parametrize(("numtaps", "cutoff", "beta"),
                         [(97, 0.25, 8.0), (193, 0.21, 8.0), (63, 0.1, 5.0), (255, 0.45, 12.0), (31, 0.5, 0.0)])
def test_firwin_kaiser_equals_scipy(numtaps: int, cutoff: float, beta: float) -> None:
    """The numpy Kaiser low-pass design gives scipy.signal.firwin's taps bit for bit (the
    true-peak interpolator and the saturation's decimator: 97 and 193 taps, beta 8)."""
    import scipy.signal

    from symphony.dsp.linear import firwin_kaiser

    expected = scipy.signal.firwin(numtaps, cutoff, window=("kaiser", beta))
    got = firwin_kaiser(numtaps, cutoff, beta)
    assert np.array_equal(got, expected), float(np.max(np.abs(got - expected)))
