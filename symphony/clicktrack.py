"""Click track for a live performer: one click per beat of the meter, the downbeat accented.

The clicks follow the tempo map the Conductor plays (cue points solved in), so a player
on headphones stays with the picture. Beats are counted in the meter's unit (eighths in
7/8, quarters in 4/4); the first beat of every bar is the accent. Each click starts at
its peak *on* the beat's frame (``TempoMap.frame_at``): a decaying cosine burst
``gain * cos(2 pi f t) * exp(-t / tau) * (1 - t / T)``, which is exactly 0 after ``T``.

:func:`click_blocks` streams the track in blocks (memory stays flat for long chapters);
``symphony render --click`` writes it next to the mix as ``<name>.click.wav``, mono, the
same length as the mix.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterator

import numpy as np

from symphony.score.model import Score
from symphony.tempo import TempoMap

ACCENT_HZ, BEAT_HZ = 1760.0, 1320.0
ACCENT_GAIN, BEAT_GAIN = 0.8, 0.45  # -1.9 and -6.9 dBFS peaks
CLICK_MS = 30.0
DECAY_MS = 6.0


def beat_frames(score: Score, tempo_map: TempoMap) -> tuple[np.ndarray, np.ndarray]:
    """Frames of every beat from bar 1 to the chapter's end, and which are downbeats.

    Returns
    -------
    frames : ndarray of int64, increasing
    downbeats : ndarray of bool, same shape

    Examples
    --------
    >>> from symphony.catalog import load
    >>> score = load("scores/example-03-picture.toml")
    >>> frames, down = beat_frames(score, TempoMap(score.tempos, 48000))
    >>> int(frames[0]), bool(down[0]), bool(down[1])
    (0, True, False)
    """
    frames, down = [], []
    meters = score.meters
    for i, m in enumerate(meters):
        stop = meters[i + 1].start_beat if i + 1 < len(meters) else score.end_beat
        unit = Fraction(4, m.denominator)
        beat, k = m.start_beat, 0
        while beat < min(stop, score.end_beat):
            frames.append(tempo_map.frame_at(beat))
            down.append(k % m.numerator == 0)
            beat += unit
            k += 1
    return np.array(frames, dtype=np.int64), np.array(down, dtype=bool)


def click_sound(sample_rate: int, *, accent: bool) -> np.ndarray:
    """One click, float64 of ``CLICK_MS`` ms: peak ``gain`` at sample 0, 0 at the end."""
    n = int(round(CLICK_MS * sample_rate / 1000.0))
    t = np.arange(n) / sample_rate
    freq, gain = (ACCENT_HZ, ACCENT_GAIN) if accent else (BEAT_HZ, BEAT_GAIN)
    return gain * np.cos(2 * np.pi * freq * t) * np.exp(-t * 1000.0 / DECAY_MS) * (1.0 - np.arange(n) / n)


def click_blocks(score: Score, tempo_map: TempoMap, n_frames: int, block_size: int = 65536
                 ) -> Iterator[np.ndarray]:
    """The click track in blocks of ``(1, n)`` float64, ``n_frames`` frames in total.

    Overlapping clicks (very fast beats) add up; the track does not depend on ``block_size``.
    """
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    sr = tempo_map.sample_rate
    frames, down = beat_frames(score, tempo_map)
    sounds = {True: click_sound(sr, accent=True), False: click_sound(sr, accent=False)}
    length = sounds[True].size
    for start in range(0, int(n_frames), block_size):
        n = min(block_size, int(n_frames) - start)
        out = np.zeros((1, n))
        first = int(np.searchsorted(frames, start - length + 1, side="left"))
        last = int(np.searchsorted(frames, start + n, side="left"))
        for f, accent in zip(frames[first:last], down[first:last]):
            sound = sounds[bool(accent)]
            a, b = max(int(f), start), min(int(f) + length, start + n)
            out[0, a - start:b - start] += sound[a - int(f):b - int(f)]
        yield out


def click_track(score: Score, tempo_map: TempoMap, n_frames: int) -> np.ndarray:
    """The whole click track, ``(1, n_frames)`` float64 (tests and notebooks)."""
    parts = list(click_blocks(score, tempo_map, n_frames))
    return np.concatenate(parts, axis=1) if parts else np.zeros((1, 0))
