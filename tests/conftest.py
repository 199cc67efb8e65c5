"""Shared fixtures: the test seed, sample rates, small score texts, the --update-goldens flag."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

SEED = 1927
REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="Rewrite tests/golden/* from the current code (commit them with the change "
                          "that explains them).")
    parser.addoption("--fuzz-long", action="store_true", default=False,
                     help="Run the fuzz tests of tests/faults with the long hypothesis profile "
                          "(thousands of examples; see docs/reliability.md).")


@pytest.fixture
def update_goldens(request) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(params=[22050, 44100, 48000])
def sample_rate(request) -> int:
    return request.param


def write_score(tmp_path: Path, text: str, name: str = "score.toml") -> Path:
    """Write a dedented score text to ``tmp_path/name`` and return the path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


#: A short score that uses one section of each first-set instrument, a tempo ramp, a meter
#: change, dynamics, a drum pattern, a unison passage, a generative passage and two buses.
SMALL_SCORE = """
[chapter]
title = "Test Machine"
number = 7
seed = 1927
sample_rate = 22050
key = "D minor"
tail_seconds = 1.5

[[tempo]]
bar = 1
bpm = 120
[[tempo]]
bar = 3
bpm = 140
ramp_bars = 1

[[meter]]
bar = 1
signature = "4/4"
[[meter]]
bar = 4
signature = "7/8"

[master]
ceiling_dbtp = -1.0

[bus.hall]
effect = "reverb"
space = "factory_hall"
gain_db = -4.0

[bus.echo]
effect = "delay"
time_ms = 250.0
feedback = 0.3

[section.drums]
instrument = "drum_machine"
gain_db = -4.0
sends = { hall = 0.1 }

[section.bass]
instrument = "acid_bass"
gain_db = -6.0
params = { cutoff_hz = 500, resonance = 0.7 }

[section.strings]
instrument = "string_ensemble"
gain_db = -8.0
pan = -0.3
sends = { hall = 0.4 }
compressor = { threshold_db = -40, ratio = 8, attack_ms = 2, release_ms = 150, sidechain = "drums" }

[section.lead]
instrument = "poly_lead"
gain_db = -10.0
pan = 0.3
sends = { hall = 0.2, echo = 0.25 }

[[passage]]
name = "beat"
bar = 1
bars = 2
sections = ["drums"]
pattern = { kick = "x...x...x...x...", snare = "....x.......x...", closed_hat = "x.x.X.x.x.x.X.x." }

[[passage]]
name = "into the catacomb"
bar = 3
bars = 1
sections = ["drums"]
space = "catacomb"
pattern = { kick = "x.......x.......", tom_low = "..........o..o.." }

[[passage]]
name = "theme"
bar = 1
players = [ { section = "strings" }, { section = "lead", transpose = 12, detune_cents = 3.0, spread_ms = 5.0 } ]
notes = "d4:4 f4 a4 d5 | c5:4. bb4:8 a4:2 | g4:8 a4 bb4 c5 d5:2 | <d4 f4 a4>:2.. |"
dynamics = "1:p 1:< 3:f"

[[passage]]
name = "chance bass"
bar = 1
bars = 4
sections = ["bass"]
[passage.generate]
kind = "walk"
scale = "key"
start = "d2"
low = "a1"
high = "d3"
step = "1/8"
"""
