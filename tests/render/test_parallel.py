"""``symphony render --jobs N`` renders scores in separate processes, bit-identical to the serial render."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import soundfile as sf
from click.testing import CliRunner

from symphony.cli import main
from tests.conftest import write_score

#: Two short, different chapters at 22050 Hz: a lead through the ladder, drums, a reverb
#: bus; the second one is loudness-normalized (two-pass render) and has a delay bus.
CHAPTER_A = """
[chapter]
title = "Parallel A"
number = 1
seed = 11
sample_rate = 22050
key = "D minor"
tail_seconds = 0.5

[[tempo]]
bar = 1
bpm = 150

[bus.hall]
effect = "reverb"
space = "room"

[section.lead]
instrument = "poly_lead"
gain_db = -10.0
pan = -0.3
sends = { hall = 0.3 }

[section.drums]
instrument = "drum_machine"
gain_db = -6.0
sends = { hall = 0.1 }

[[passage]]
name = "line"
bar = 1
sections = ["lead"]
notes = "d4:8 f4 a4 c5 <d4 a4>:2 |"

[[passage]]
name = "beat"
bar = 1
bars = 1
sections = ["drums"]
pattern = { kick = "x...x...x...x...", snare = "....x.......x..." }
"""

CHAPTER_B = """
[chapter]
title = "Parallel B"
number = 2
seed = 12
sample_rate = 22050
key = "A minor"
tail_seconds = 0.5

[[tempo]]
bar = 1
bpm = 140

[master]
lufs = -18.0

[bus.echo]
effect = "delay"
time_ms = 120.0
feedback = 0.3

[section.bass]
instrument = "acid_bass"
gain_db = -6.0
sends = { echo = 0.3 }

[[passage]]
name = "acid"
bar = 1
sections = ["bass"]
notes = "a1:16 a1 a2 a1 c2 a1 e2 a1 g1 a1 a2 a1 e2 d2 c2 a1 |"
"""


def _digest(path: Path) -> str:
    """sha256 of the samples exactly as stored, plus the rate (file headers may differ)."""
    with sf.SoundFile(path) as f:
        data = f.read(dtype="int32", always_2d=True)
        return hashlib.sha256(data.tobytes() + str(f.samplerate).encode()).hexdigest()


@pytest.fixture(scope="module")
def scores(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("scores")
    return [write_score(d, CHAPTER_A, "a.toml"), write_score(d, CHAPTER_B, "b.toml")]


def _render(scores: list[Path], out: Path, jobs: int, *extra: str) -> dict[str, str]:
    result = CliRunner().invoke(main, ["render", *map(str, scores), "--out-dir", str(out),
                                       "--jobs", str(jobs), *extra])
    assert result.exit_code == 0, result.output
    files = sorted(p for p in out.rglob("*.wav"))
    assert files, "nothing rendered"
    return {str(p.relative_to(out)): _digest(p) for p in files}


@pytest.mark.parametrize("extra", [(), ("--stems",)], ids=["mix", "stems"])
def test_parallel_render_is_bit_identical_to_serial(scores, tmp_path, extra):
    serial = _render(scores, tmp_path / "serial", 1, *extra)
    parallel = _render(scores, tmp_path / "parallel", 2, *extra)
    assert set(serial) == set(parallel)
    assert {"a.wav", "b.wav"} <= set(serial)
    if extra:
        assert any(name.startswith("a.stems/") for name in serial)
    different = [name for name in serial if serial[name] != parallel[name]]
    assert not different, f"--jobs 2 differs from --jobs 1 in {different}"


def test_parallel_render_does_not_depend_on_the_order(scores, tmp_path):
    forward = _render(scores, tmp_path / "forward", 2)
    backward = _render(scores[::-1], tmp_path / "backward", 2)
    assert forward == backward


def test_parallel_render_reports_every_score(scores, tmp_path):
    result = CliRunner().invoke(main, ["render", *map(str, scores), "--out-dir", str(tmp_path),
                                       "--jobs", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert result.output.count('"path"') == 2
    assert str(tmp_path / "a.wav") in result.output and str(tmp_path / "b.wav") in result.output
