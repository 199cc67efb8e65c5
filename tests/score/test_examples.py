"""The example scores load cleanly and deterministically; symphony.score imports nothing audio."""

from __future__ import annotations

import ast
from fractions import Fraction as F
from pathlib import Path

import pytest

from symphony.score import load_score

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [ROOT / "scores" / "example-01-foundry.toml", ROOT / "scores" / "example-02-chance.toml"]


def seconds(score) -> float:
    """Length in seconds by integrating the tempo map (linear-in-beats ramps), 1/64-beat steps."""
    total, bpm_before = 0.0, score.tempos[0].bpm
    n = int(score.end_beat * 64)
    for i in range(n):
        beat = F(i, 64)
        bpm = score.tempos[0].bpm
        for t in score.tempos:
            if t.start_beat <= beat:
                if t.ramp_beats and beat < t.start_beat + t.ramp_beats:
                    bpm = bpm + (t.bpm - bpm) * float((beat - t.start_beat) / t.ramp_beats)
                else:
                    bpm = t.bpm
        total += 60.0 / bpm / 64
    return total


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_loads(path, catalog) -> None:
    s = load_score(path, catalog)
    assert 16 <= s.n_bars <= 32
    assert 45.0 <= seconds(s) <= 75.0
    assert len(s.notes) > 200 and s.dynamics
    assert load_score(path, catalog).notes == s.notes  # deterministic
    used = {n.section for n in s.notes}
    assert used == {sec.name for sec in s.sections}
    assert all(n.start_beat < s.end_beat for n in s.notes)


def test_foundry_features(catalog) -> None:
    s = load_score(EXAMPLES[0], catalog)
    assert [(m.numerator, m.denominator) for m in s.meters] == [(4, 4), (7, 8), (4, 4)]
    assert s.tempos[1].ramp_beats == 16 and s.tempos[2].start_beat == 87 + 2
    theme = [n for n in s.notes if n.passage == "theme" and n.section == "lead"]
    assert theme[0].pitch == 62.0 and any(abs(n.pitch - 64.1) < 1e-9 for n in theme)
    assert {n.voice for n in s.notes if n.section == "drums"} >= {"kick", "snare", "closed_hat", "clap"}


def test_chance_uses_every_generator(catalog) -> None:
    text = EXAMPLES[1].read_text()
    for kind in ("euclid", "probability", "walk", "markov", "arpeggio"):
        assert f'kind = "{kind}"' in text
    a = load_score(EXAMPLES[1], catalog)
    b = load_score(EXAMPLES[1], catalog, text=text.replace("seed = 2024", "seed = 2025"))
    assert [n.pitch for n in a.notes if n.section == "bass"] != [n.pitch for n in b.notes if n.section == "bass"]


def test_score_package_imports_nothing_audio() -> None:
    allowed_roots = {"__future__", "math", "bisect", "dataclasses", "difflib", "fractions", "hashlib", "os", "re",
                     "tomllib", "types", "typing", "zlib", "numpy", "symphony"}
    allowed_symphony = ("symphony.errors", "symphony.params", "symphony.score")
    for path in (ROOT / "symphony" / "score").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed_roots, f"{path.name} imports {name}"
                if name.startswith("symphony"):
                    assert name.startswith(allowed_symphony), f"{path.name} imports {name}"
