"""``symphony audition``: render an instrument's demo phrase through the normal score path.

The demo is written as a small score (one section, a room reverb, the instrument's
``DEMO`` phrase or, for drum machines, its ``DEMO_PATTERN``) and rendered like any chapter,
so what you hear is what a score gets.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from symphony.errors import ParameterError


def demo_score_text(name: str, *, bpm: float = 96.0, sample_rate: int = 48000) -> str:
    """The TOML score that auditions instrument ``name``.

    Raises
    ------
    ParameterError
        If no instrument is registered under ``name`` (with a did-you-mean hint).
    """
    from symphony.instruments import REGISTRY

    if name not in REGISTRY:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ParameterError(f"unknown instrument '{name}'; {hint}known: {', '.join(sorted(REGISTRY))}")
    cls = REGISTRY[name]
    if cls.DEMO_PATTERN:
        rows = ", ".join(f"{voice} = {json.dumps(steps)}" for voice, steps in cls.DEMO_PATTERN.items()
                         if steps.strip("."))
        material = f"bars = 2\npattern = {{ {rows} }}"
    else:
        material = f"notes = {json.dumps(cls.DEMO)}\nrepeat = 2"
    return f"""[chapter]
title = "Audition: {name}"
number = 99
seed = 1927
sample_rate = {sample_rate}
tail_seconds = 2.5

[[tempo]]
bar = 1
bpm = {bpm:g}

[bus.room]
effect = "reverb"
space = "room"
gain_db = -6.0

[section.{name}]
instrument = "{name}"
sends = {{ room = 0.25 }}

[[passage]]
name = "demo"
bar = 1
sections = ["{name}"]
{material}
"""


def audition(name: str, out_dir: str | Path = "renders", *, settings=None):
    """Render the demo of ``name`` to ``out_dir/audition-<name>.wav``; returns the RenderSummary."""
    from symphony.catalog import load
    from symphony.render import RenderSettings, render_score

    out = Path(out_dir) / f"audition-{name}.wav"
    text = demo_score_text(name)
    score = load(f"<audition {name}>", text=text)
    return render_score(score, out, settings or RenderSettings())
