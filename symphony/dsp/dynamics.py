"""Dynamics: a look-ahead true-peak limiter and a feed-forward bus compressor.

Limiter (brickwall on the 4x-oversampled peak)
----------------------------------------------
Per input frame the detector (:class:`symphony.dsp.loudness.OversampledPeak`, the same
interpolator the loudness meter uses) gives the peak ``p`` of the quarter-sample grid,
and the required gain ``r = min(1, ceiling / p)``. The gain computer then takes

1. ``m[n] = min(r[n - W - 1 .. n])`` -- a sliding minimum over ``W + 2`` frames,
2. ``h[n] = m[n]`` if it falls, else ``h[n-1] + (1 - a) (m[n] - h[n-1])`` -- instant
   attack, exponential release (``a = exp(-1 / (release_s * fs))``), so ``h <= m``,
3. ``g[n] = mean(h[n - W + 1 .. n])`` -- a box average of ``W`` frames.

Every term of the average is ``<= r`` at frames ``n - W - 1 .. n - W + 1``, so applying
``g[n]`` to the input delayed by ``W + D`` frames (``D`` = interpolator delay) keeps the
gain at or below the required gain of the oversampled points within one frame of each
output sample. The box average makes the gain piecewise linear: no steps, no clicks.
The detector aims ``_SAFETY_DB`` (0.02 dB) below the ceiling, because the gain is not
constant over the interpolator's support and the product may overshoot by ~0.003 dB.
Material whose true peak stays at or below that threshold gets ``g == 1.0`` exactly and
passes bit-exactly (delayed). This is the classic "min-hold + moving average" limiter
(e.g. Zolzer, *DAFX*, 2nd ed., section 4.2.2; Giannoulis, Massberg & Reiss, JAES 2012).

Compressor
----------
Feed-forward, log-domain design of Giannoulis, Massberg & Reiss, "Digital Dynamic Range
Compressor Design -- A Tutorial and Analysis", JAES 60(6), 2012: stereo-linked peak level
(max over channels of the detector input, the external sidechain when given), quadratic
soft knee static curve (their eq. 4), smooth decoupled peak detector in dB (eq. 17) with
``alpha = exp(-1 / (tau fs))``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from symphony.dsp.base import Processor, check_range, check_sample_rate
from symphony.dsp.loudness import OversampledPeak
from symphony.errors import ParameterError


#: The limiter aims this far below its ceiling (measured overshoot without it: <= 0.003 dB).
_SAFETY_DB = 0.02


def _check_channels(channels: int) -> int:
    if isinstance(channels, bool) or int(channels) != channels or channels < 1:
        raise ParameterError(f"channels must be a positive integer, got {channels!r}")
    return int(channels)


def _check_block(x: np.ndarray, channels: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != channels:
        raise ParameterError(f"expected a ({channels}, n) block, got shape {x.shape}")
    return x


@numba.njit(cache=True, fastmath={"reassoc", "nsz", "nnan"})
def _ring_min(a):  # pragma: no cover - compiled
    """Minimum of ``a`` and 1.0 (exact in any order, so the reduction may vectorize)."""
    m = 1.0
    for j in range(a.shape[0]):
        m = min(m, a[j])
    return m


@numba.njit(cache=True, fastmath={"reassoc", "nsz", "nnan"})
def _ring_sum(a):  # pragma: no cover - compiled
    """Sum of ``a`` in a fixed, vectorized order (deterministic; within a few ulp of any other order)."""
    s = 0.0
    for j in range(a.shape[0]):
        s += a[j]
    return s


@numba.njit(cache=True)
def _limiter_gain_kernel(p, ceiling, rel_coef, r_ring, h_ring, state, out):  # pragma: no cover
    """Gain computer of :class:`TruePeakLimiter` (see module docstring).

    ``r_ring`` (W + 2) and ``h_ring`` (W) are circular histories, ``state`` holds
    ``[r_pos, h_pos, h_prev, r_below, h_below]``; all three are updated in place.
    ``r_below`` / ``h_below`` count the ring entries below 1.0: while both are zero the
    minimum and the mean are exactly 1.0 and the ring scans are skipped (the common,
    unlimited case costs O(1) per frame).
    """
    nr = r_ring.shape[0]
    nh = h_ring.shape[0]
    r_pos = int(state[0])
    h_pos = int(state[1])
    h_prev = state[2]
    r_below = int(state[3])
    h_below = int(state[4])
    for i in range(p.shape[0]):
        r = 1.0
        if p[i] > ceiling:
            r = ceiling / p[i]
        if r_ring[r_pos] < 1.0:
            r_below -= 1
        if r < 1.0:
            r_below += 1
        r_ring[r_pos] = r
        r_pos += 1
        if r_pos == nr:
            r_pos = 0
        m = 1.0
        if r_below > 0:
            m = _ring_min(r_ring)
        if m < h_prev:
            h = m
        else:
            h = h_prev + (1.0 - rel_coef) * (m - h_prev)
            if m - h < 1e-12:  # settle exactly (so that quiet material gets gain 1.0 exactly)
                h = m
        h_prev = h
        if h_ring[h_pos] < 1.0:
            h_below -= 1
        if h < 1.0:
            h_below += 1
        h_ring[h_pos] = h
        h_pos += 1
        if h_pos == nh:
            h_pos = 0
        if h_below > 0:
            out[i] = _ring_sum(h_ring) / nh
        else:
            out[i] = 1.0
    state[0] = r_pos
    state[1] = h_pos
    state[2] = h_prev
    state[3] = r_below
    state[4] = h_below


def limiter_gain_reference(p: np.ndarray, ceiling: float, rel_coef: float, window: int) -> np.ndarray:
    """Slow, obvious reference of the limiter gain computer from a fresh state (for tests)."""
    r = np.minimum(1.0, ceiling / np.maximum(p, 1e-300))
    r = np.where(p > ceiling, r, 1.0)
    r_hist = [1.0] * (window + 2)
    h_hist = [1.0] * window
    h_prev = 1.0
    out = np.empty(len(p))
    for i, ri in enumerate(r):
        r_hist = r_hist[1:] + [ri]
        m = min(r_hist)
        if m < h_prev:
            h = m
        else:
            h = h_prev + (1.0 - rel_coef) * (m - h_prev)
            if m - h < 1e-12:
                h = m
        h_prev = h
        h_hist = h_hist[1:] + [h]
        out[i] = sum(h_hist) / window
    return out


class TruePeakLimiter(Processor):
    """Look-ahead brickwall limiter on the 4x-oversampled peak: output true peak <= ``ceiling_dbtp``.

    Parameters
    ----------
    sample_rate : int
        Hz.
    channels : int >= 1
        All channels share one gain (linked).
    ceiling_dbtp : float in [-30, 0]
        Maximum true peak of the output, dBTP (control-rate; takes effect at once).
    lookahead_ms : float in [0.5, 20]
        Attack ramp length ``W``; the latency is ``W`` plus the interpolator delay.
    release_ms : float in [1, 5000]
        Time constant of the exponential gain recovery.
    """

    def __init__(self, sample_rate: int, *, channels: int = 2, ceiling_dbtp: float = -1.0,
                 lookahead_ms: float = 2.0, release_ms: float = 80.0) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = _check_channels(channels)
        self._lookahead_ms = check_range("lookahead_ms", lookahead_ms, 0.5, 20.0)
        self._window = max(2, int(round(self._lookahead_ms * 1e-3 * self.sample_rate)))
        self.set(ceiling_dbtp=ceiling_dbtp, release_ms=release_ms)
        self.reset()

    def set(self, *, ceiling_dbtp: float | None = None, release_ms: float | None = None) -> None:
        """Change the ceiling (dBTP) or release (ms); the look-ahead is fixed at construction."""
        if ceiling_dbtp is not None:
            self.ceiling_dbtp = check_range("ceiling_dbtp", ceiling_dbtp, -30.0, 0.0)
            # The gain curve is not constant across the interpolator's support, so the product
            # can overshoot the per-point bound by a few thousandths of a dB; aim a little low.
            self._ceiling = 10.0 ** ((self.ceiling_dbtp - _SAFETY_DB) / 20.0)
        if release_ms is not None:
            self.release_ms = check_range("release_ms", release_ms, 1.0, 5000.0)
            self._rel_coef = math.exp(-1.0 / (self.release_ms * 1e-3 * self.sample_rate))

    @property
    def latency_frames(self) -> int:
        """Constant delay of the output relative to the input, frames."""
        return self._window + OversampledPeak.delay_frames

    def reset(self) -> None:
        self._detector = OversampledPeak(self.channels)
        self._r_ring = np.ones(self._window + 2)
        self._h_ring = np.ones(self._window)
        self._state = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
        self._delay = np.zeros((self.channels, self.latency_frames))
        self.last_gain = np.ones(0)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Limit a block ``(channels, n)``; returns the delayed, gain-reduced block of the same shape.

        The gain applied to each output frame is kept in ``self.last_gain`` (for meters and tests).
        """
        x = _check_block(x, self.channels)
        n = x.shape[1]
        # frames that cannot exceed the ceiling need no exact peak: their gain is 1 either way
        p = self._detector.process(x, floor=self._ceiling)
        g = np.empty(n)
        _limiter_gain_kernel(p, self._ceiling, self._rel_coef, self._r_ring, self._h_ring, self._state, g)
        ext = np.concatenate([self._delay, x], axis=1)
        y = ext[:, :n] * g
        self._delay = ext[:, n:].copy()
        self.last_gain = g
        return y


@numba.njit(cache=True)
def _compressor_kernel(level_in, threshold, ratio, knee, att, rel, state, gain_db_out):  # pragma: no cover
    """Static curve + smooth decoupled peak detector (Giannoulis et al. 2012, eqs. 4 and 17).

    ``level_in`` is the detector level in dB per frame; ``state[0]`` the smoothed gain
    reduction (dB, >= 0). Writes the (negative) gain in dB.
    """
    y1 = state[0]
    slope = 1.0 - 1.0 / ratio
    for i in range(level_in.shape[0]):
        xg = level_in[i]
        over = xg - threshold
        if 2.0 * over < -knee:
            red = 0.0
        elif 2.0 * abs(over) <= knee and knee > 0.0:
            t = over + 0.5 * knee
            red = slope * t * t / (2.0 * knee)
        else:
            red = slope * over
        if red > y1:
            y1 = att * y1 + (1.0 - att) * red
        else:
            y1 = rel * y1 + (1.0 - rel) * red
        if y1 < 1e-12:
            y1 = 0.0
        gain_db_out[i] = -y1
    state[0] = y1


def compressor_reference(level_db, threshold, ratio, knee, att, rel):
    """Slow reference of :func:`_compressor_kernel` from a fresh state (for tests)."""
    out = np.empty(len(level_db))
    y1 = 0.0
    for i, xg in enumerate(level_db):
        if 2 * (xg - threshold) < -knee:
            yg = xg
        elif knee > 0 and 2 * abs(xg - threshold) <= knee:
            yg = xg + (1 / ratio - 1) * (xg - threshold + knee / 2) ** 2 / (2 * knee)
        else:
            yg = threshold + (xg - threshold) / ratio
        red = xg - yg
        y1 = att * y1 + (1 - att) * red if red > y1 else rel * y1 + (1 - rel) * red
        if y1 < 1e-12:
            y1 = 0.0
        out[i] = -y1
    return out


class Compressor(Processor):
    """Feed-forward bus compressor (log-domain soft knee) with optional external sidechain.

    Parameters
    ----------
    sample_rate : int
    channels : int >= 1
        Linked: one gain for all channels.
    threshold_db : float in [-60, 0]
        dBFS (peak level of the detector input).
    ratio : float in [1, 100]
    attack_ms, release_ms : float
        Time constants of the gain smoothing, ms.
    knee_db : float in [0, 24]
        Width of the quadratic knee, dB.
    makeup_db : float in [-24, 24]
        Gain added after compression, dB.

    ``process(x, sidechain=None)``: ``x`` is ``(channels, n)``; ``sidechain`` is
    ``(k, n)`` or ``(n,)`` (e.g. the kick drum, for ducking). All parameters are
    control-rate and take effect at the next call.
    """

    def __init__(self, sample_rate: int, *, channels: int = 2, threshold_db: float = -18.0,
                 ratio: float = 4.0, attack_ms: float = 10.0, release_ms: float = 120.0,
                 knee_db: float = 6.0, makeup_db: float = 0.0) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = _check_channels(channels)
        self.set(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms,
                 release_ms=release_ms, knee_db=knee_db, makeup_db=makeup_db)
        self.reset()

    def set(self, **params: float) -> None:
        """Validate and apply any of threshold_db, ratio, attack_ms, release_ms, knee_db, makeup_db."""
        limits = {"threshold_db": (-60.0, 0.0), "ratio": (1.0, 100.0), "attack_ms": (0.01, 1000.0),
                  "release_ms": (1.0, 5000.0), "knee_db": (0.0, 24.0), "makeup_db": (-24.0, 24.0)}
        for name, value in params.items():
            if name not in limits:
                raise ParameterError(f"Compressor has no parameter {name!r}")
            setattr(self, name, check_range(name, value, *limits[name]))
        fs = self.sample_rate
        self._att = math.exp(-1.0 / (self.attack_ms * 1e-3 * fs))
        self._rel = math.exp(-1.0 / (self.release_ms * 1e-3 * fs))
        self._makeup = 10.0 ** (self.makeup_db / 20.0)

    def reset(self) -> None:
        self._state = np.zeros(1)
        self.last_gain_db = np.zeros(0)

    def process(self, x: np.ndarray, sidechain: np.ndarray | None = None) -> np.ndarray:
        """Compress ``x`` ``(channels, n)``, keyed by ``sidechain`` if given (else by ``x``)."""
        x = _check_block(x, self.channels)
        key = x if sidechain is None else np.atleast_2d(np.asarray(sidechain, dtype=np.float64))
        if key.shape[-1] != x.shape[1]:
            raise ParameterError(f"sidechain must have {x.shape[1]} frames, got shape {key.shape}")
        level = 20.0 * np.log10(np.maximum(np.max(np.abs(key), axis=0), 1e-15))
        gdb = np.empty(x.shape[1])
        _compressor_kernel(level, self.threshold_db, self.ratio, self.knee_db, self._att, self._rel,
                           self._state, gdb)
        self.last_gain_db = gdb
        return x * (10.0 ** (gdb / 20.0) * self._makeup)
