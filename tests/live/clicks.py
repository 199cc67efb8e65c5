"""A click (discontinuity) detector for the live tests.

A click is a sample where the second difference of the signal (a crude high-pass that a
smooth waveform keeps small and a step or a kink makes large) exceeds ``ratio`` times its
RMS over the preceding ``window_ms`` plus an absolute ``floor``. Musical onsets from
silence are flagged as well, so tests either use material without hard onsets or compare
the flagged positions with those of the offline render.
"""

from __future__ import annotations

import numpy as np


def find_clicks(x: np.ndarray, sample_rate: int, *, ratio: float = 20.0, window_ms: float = 10.0,
                floor: float = 2e-3) -> np.ndarray:
    """Frame indices of clicks in ``x`` (channels, n); empty when the signal is continuous."""
    x = np.asarray(x, dtype=np.float64)
    e = np.abs(np.diff(x, n=2, axis=-1)).max(axis=0)
    w = max(4, int(window_ms * sample_rate / 1000))
    c = np.concatenate([[0.0], np.cumsum(e * e)])
    idx = np.arange(e.size)
    lo = np.maximum(idx - w, 0)
    count = np.maximum(idx - lo, 1)
    local = np.sqrt((c[idx] - c[lo]) / count)  # RMS of the preceding window, this sample excluded
    return np.flatnonzero(e > ratio * local + floor) + 1


def test_detector_finds_a_step_and_passes_a_sine() -> None:
    sr = 48000
    t = np.arange(sr) / sr
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)[None, :]
    assert find_clicks(sine, sr).size == 0
    cut = sine.copy()
    cut[:, 20000:] = 0.0  # a hard stop mid-cycle
    hits = find_clicks(cut, sr)
    assert hits.size and abs(hits[0] - 20000) <= 2
    faded = sine.copy()
    n = int(0.03 * sr)
    faded[:, 20000:20000 + n] *= 0.5 * (1 + np.cos(np.pi * np.arange(n) / n))
    faded[:, 20000 + n:] = 0.0
    assert find_clicks(faded, sr).size == 0
