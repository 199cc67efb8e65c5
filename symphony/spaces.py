"""Scene reverb: a reverb bus that moves the listener between spaces at passage starts.

When a passage names a ``space``, the bus input crossfades (``CROSSFADE_MS``) from the
current space's reverb into the new one, while the old space keeps ringing out its own
tail: a listener walking from the catacomb into the nightclub hears the catacomb fade
behind them. Each space is one reverb instance; an instance that receives no input is
run for its tail (until -120 dB, two RT60 of its slowest band) and then reset and skipped.
The stop and restart frames depend only on the schedule, never on the block size, so the
output stays block-size invariant.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

#: Length of the send crossfade at a change of space.
CROSSFADE_MS = 80.0
#: Parameters of the bus that carry over to the other spaces (the rest belong to its preset).
SHARED_PARAMS = ("width", "level_db")


class SceneReverb:
    """A reverb bus whose space follows a schedule of ``(frame, space)`` changes.

    Parameters
    ----------
    sample_rate : int
    reverb_cls : type
        The reverb processor (``Reverb(sample_rate, space=..., **overrides)``), 100 % wet.
    params : mapping
        The bus parameters; ``space`` is the opening space (default ``"room"``).
    schedule : sequence of (frame, space)
        Changes of space, sorted by frame.
    """

    def __init__(self, sample_rate: int, reverb_cls: type, params: Mapping[str, float | str],
                 schedule: list[tuple[int, str]]) -> None:
        self.sample_rate = int(sample_rate)
        params = dict(params)
        opening = str(params.pop("space", "room"))
        shared = {k: v for k, v in params.items() if k in SHARED_PARAMS}
        xfade = max(1, int(round(CROSSFADE_MS * sample_rate / 1000.0)))
        periods: dict[str, list[tuple[int, int | None]]] = {opening: []}
        current, since = opening, -xfade
        for frame, space in schedule:
            if space == current:
                continue
            periods.setdefault(current, []).append((since, frame))
            periods.setdefault(space, [])
            current, since = space, frame
        periods[current].append((since, None))
        self.instances = []
        for space, spans in periods.items():
            if not spans:
                continue
            reverb = reverb_cls(sample_rate, space=space, **(params if space == opening else shared))
            tail = _tail_frames(reverb, sample_rate)
            xs, ys, alive = [], [], []
            for on, off in spans:
                xs += [on, on + xfade]
                ys += [0.0, 1.0]
                if off is None:
                    alive.append((on, None))
                else:
                    off = max(off, on + xfade)
                    xs += [off, off + xfade]
                    ys += [1.0, 0.0]
                    alive.append((on, off + xfade + tail))
            self.instances.append(_Instance(reverb, np.asarray(xs, float), np.asarray(ys, float),
                                            _merge(alive)))
        self.spaces = tuple(periods)

    def reset(self) -> None:
        for inst in self.instances:
            inst.reverb.reset()

    def process(self, x: np.ndarray, start_frame: int) -> np.ndarray:
        """Wet output ``(2, n)`` for the bus input ``x`` starting at ``start_frame``."""
        n = x.shape[1]
        out = np.zeros((2, n))
        stop = start_frame + n
        for inst in self.instances:
            for a, b in inst.alive:
                lo = max(a, start_frame)
                hi = stop if b is None else min(b, stop)
                if lo >= hi:
                    continue
                t = np.arange(lo, hi, dtype=np.float64)
                w = np.interp(t, inst.xs, inst.ys)
                out[:, lo - start_frame:hi - start_frame] += inst.reverb.process(
                    x[:, lo - start_frame:hi - start_frame] * w)
                if b is not None and hi == b:
                    inst.reverb.reset()  # its tail is below -120 dB: stop computing it
        return out


class _Instance:
    __slots__ = ("reverb", "xs", "ys", "alive")

    def __init__(self, reverb, xs, ys, alive) -> None:
        self.reverb, self.xs, self.ys, self.alive = reverb, xs, ys, alive


def _tail_frames(reverb, sample_rate: int) -> int:
    """Frames for the tail to fall 120 dB: twice the longest band RT60, plus predelay."""
    decay = float(getattr(reverb, "decay_s", 3.0))
    longest = decay * max(1.0, float(getattr(reverb, "bass_ratio", 1.0)),
                          float(getattr(reverb, "hf_ratio", 1.0)))
    predelay = float(getattr(reverb, "predelay_ms", 0.0)) / 1000.0
    return int(math.ceil((2.0 * longest + predelay + 0.1) * sample_rate))


def _merge(spans: list[tuple[int, int | None]]) -> tuple[tuple[int, int | None], ...]:
    """Union of overlapping alive intervals (``None`` = open-ended)."""
    spans = sorted(spans, key=lambda s: s[0])
    merged: list[list] = []
    for a, b in spans:
        if merged and (merged[-1][1] is None or a <= merged[-1][1]):
            if merged[-1][1] is not None:
                merged[-1][1] = None if b is None else max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple((a, b) for a, b in merged)
