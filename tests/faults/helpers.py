"""Scores and fault-injecting instruments/effects shared by the fault tests."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import numpy as np

from symphony.conductor import Conductor
from symphony.dsp.effects import EFFECTS
from symphony.instruments import REGISTRY

#: 4 bars of 4/4 at 120 bpm, 22050 Hz: bar b beat k starts at frame ((b-1)*4 + k-1) * 11025.
FAULT_SCORE = """
[chapter]
title = "Faults"
number = 9
sample_rate = 22050
tail_seconds = 0.5

[[tempo]]
bar = 1
bpm = 120

[bus.echo]
effect = "delay"
time_ms = 250.0
feedback = 0.3

[section.lead]
instrument = "poly_lead"
voices = 4
sends = { echo = 0.3 }
params = { cutoff_hz = 2000, resonance = 0.5 }

[section.bass]
instrument = "acid_bass"
voices = 2

[[passage]]
name = "theme"
bar = 1
players = [ { section = "lead" }, { section = "bass", transpose = -24 } ]
notes = "c4:4 d4 e4 f4 | g4:2 a4 | b4:1 | c5:1 |"
"""

FRAMES_PER_BEAT = 11025


def frame_of(bar: int, beat: int) -> int:
    return ((bar - 1) * 4 + beat - 1) * FRAMES_PER_BEAT


def long_score(bars: int) -> str:
    """FAULT_SCORE stretched to ``bars`` bars (a render that takes seconds, for signals)."""
    notes = "c4:4 d4 e4 f4 | " * bars
    text = FAULT_SCORE.replace('notes = "c4:4 d4 e4 f4 | g4:2 a4 | b4:1 | c5:1 |"', f'notes = "{notes}"')
    return text.replace("voices = 4", "voices = 16")


def nan_instrument(base_name: str, at_frame: int, value: float):
    """Instrument class ``base_name`` whose output turns to ``value`` from ``at_frame`` on."""
    base = REGISTRY[base_name]

    class Faulty(base):
        def reset(self) -> None:
            super().reset()
            self._frames_done = 0

        @property
        def is_silent(self) -> bool:
            return False

        def process(self, n: int) -> np.ndarray:
            out = super().process(n)
            start = self._frames_done
            self._frames_done += n
            if start + n > at_frame:
                out = out.copy()
                out[:, max(0, at_frame - start):] = value
            return out

    Faulty.__name__ = f"Faulty{base.__name__}"
    return Faulty


def nan_effect(base_name: str, at_frame: int, value: float):
    """Bus effect ``base_name`` whose output turns to ``value`` from ``at_frame`` on."""
    base = EFFECTS[base_name]

    class Faulty(base):
        def reset(self) -> None:
            super().reset()
            self._frames_done = 0

        def process(self, x: np.ndarray) -> np.ndarray:
            out = super().process(x)
            start = self._frames_done
            self._frames_done += x.shape[-1]
            if start + x.shape[-1] > at_frame:
                out = out.copy()
                out[:, max(0, at_frame - start):] = value
            return out

    return Faulty


def faulty_conductor(*, instruments: dict | None = None, effects: dict | None = None):
    """A ``conductor_factory`` for ``render_score`` with some classes replaced."""
    return functools.partial(Conductor, instruments={**REGISTRY, **(instruments or {})},
                             effects={**EFFECTS, **(effects or {})})


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("symphony")
    return [str(script)] if script.exists() else [sys.executable, "-m", "symphony.cli"]


def leftovers(folder: Path) -> list[str]:
    """Hidden temporaries (``.name.XXXX.part``, ``.symphony-*``) left in ``folder``."""
    return sorted(p for p in os.listdir(folder) if p.startswith("."))


# ---------------------------------------------------------------- hypothesis profiles
from hypothesis import HealthCheck, settings  # noqa: E402

#: Examples per fuzz test in CI and with ``pytest --fuzz-long`` (docs/reliability.md).
CI_EXAMPLES = 60
LONG_EXAMPLES = 3000
FUZZ_LONG = [False]  # set by tests/faults/conftest.py from --fuzz-long before the tests import

settings.register_profile("symphony-ci", max_examples=CI_EXAMPLES, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.filter_too_much])
settings.register_profile("symphony-long", parent=settings.get_profile("symphony-ci"),
                          max_examples=LONG_EXAMPLES)


def fuzz_settings() -> settings:
    """The profile chosen on the command line (call at import time of a test module)."""
    return settings(parent=settings.get_profile("symphony-long" if FUZZ_LONG[0] else "symphony-ci"))
