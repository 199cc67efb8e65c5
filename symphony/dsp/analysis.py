"""Measurements of rendered audio: clicks, DC offset, clipping (numpy only).

These are the checks the tests and ``symphony measure`` run on renders; loudness and
true peak live in :mod:`symphony.dsp.loudness`.
"""

from __future__ import annotations

import numpy as np


#: Second differences below this are not judged (about 4 LSB of a 24-bit file): at the end of
#: a decaying tail one quantization step against digital silence is no click.
CLICK_FLOOR = 5e-7


def click_ratio(x: np.ndarray, sample_rate: int, *, window_ms: float = 40.0,
                guard_ms: float = 0.5) -> float:
    """Largest ratio of ``|second difference|`` at a sample to its neighbourhood's maximum.

    A click is a local anomaly: the second difference at a discontinuity is far larger
    than anywhere within ``window_ms`` before *or* after it (outside a ``guard_ms`` gap);
    ``window_ms`` must exceed the longest waveform period (a saw jump recurs each period).
    Steady waveforms (even saws, noise) score ~1-3; a hard-gated sine scores > 20.
    A percussive onset out of silence also scores high: judge drums by their own tests.

    Parameters
    ----------
    x : ndarray, shape (n,)
    sample_rate : int

    Returns
    -------
    float

    Examples
    --------
    >>> t = np.arange(4800) / 48000
    >>> round(click_ratio(np.sin(2 * np.pi * 440 * t), 48000)) <= 3
    True
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size < 3:
        return 0.0
    d2 = np.abs(np.diff(x, 2))
    w = max(2, int(window_ms * 1e-3 * sample_rate))
    g = max(1, int(guard_ms * 1e-3 * sample_rate))
    length = w - g
    padded = np.concatenate([np.zeros(w), d2, np.zeros(w)])  # padded[j] = d2[j - w]; silence outside
    # m[j] = max(padded[j : j + length])
    from scipy.ndimage import maximum_filter1d  # lazy: scipy.ndimage costs ~0.1 s at start-up

    m = maximum_filter1d(padded, size=length, mode="constant", cval=0.0, origin=-(length // 2))
    i = np.arange(d2.size)
    before = m[i]                   # max of d2[i-w : i-g]
    after = m[i + g + w]            # max of d2[i+g : i+w]
    floor = 1e-4 * max(np.abs(x).max(), 1e-12) * (2.0 * np.pi * 50.0 / sample_rate) ** 2 + CLICK_FLOOR
    return float(np.max(d2 / (np.maximum(before, after) + floor)))


def clipped_samples(x: np.ndarray, *, threshold: float = 0.9999) -> int:
    """Samples at or beyond full scale (``|x| >= threshold``), all channels."""
    return int(np.count_nonzero(np.abs(np.asarray(x)) >= threshold))


def dc_offset_db(channel_means: np.ndarray) -> float:
    """Largest absolute per-channel mean in dBFS (-inf for none).

    Takes the means rather than the signal so a file read in blocks can be measured
    (``sums / frames``).
    """
    mean = float(np.abs(np.asarray(channel_means, dtype=np.float64)).max())
    return float(20.0 * np.log10(mean)) if mean > 0 else float("-inf")
