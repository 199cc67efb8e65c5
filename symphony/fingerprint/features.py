"""Time-frequency features of a regression fingerprint (format version 1).

Everything is computed on a fixed analysis grid at ``ANALYSIS_RATE`` (22050 Hz) so that
fingerprints of renders at other rates stay comparable. Six features, each chosen for a
kind of musical change:

``bands``   (frames, 20) log power in ERB-spaced bands, dB: level, timbre, balance of sections,
            filters. ``HOP`` = 4096 samples (185.8 ms), Hann window 8192 (371.5 ms).
``chroma``  (frames, 12) log power per pitch class, dB: which pitches sound, to a fraction of
            a semitone (linear soft assignment, so a note 50 cents sharp splits its power
            between two classes); same frames (the long window resolves low pitches).
``balance`` (frames, 4) left/right power ratio per quarter of the band range, dB: panning.
``timing``  (frames, 10) reassigned time centroid per pair of bands, ms from the frame centre
            (Auger & Flandrin 1995): when the sound in a band happens inside the frame, so
            a note 20 ms late moves it even when another onset masks its own.
``pitch``   (frames, 10) power-weighted mean log-frequency per pair of bands, semitones from
            the pair's centre: a note 50 cents sharp moves it in the bands it dominates.
``onsets``  sparse list (time, band group, strength): where notes and hits start, to a few
            milliseconds (spectral flux on 46 ms windows at a 5.8 ms hop, peaks refined by a
            parabola).

All features are quantized when they are computed (steps below), so a fingerprint held in
memory equals the same fingerprint read back from its file. Coarse steps keep the file small;
the comparison only uses means over many values, and the mean of rounded values follows the
true mean (the music itself dithers the rounding). Power below ``FLOOR_DB`` is clamped to
it: -90 dB per band sits 14 dB or more above 16-bit TPDF dither (-96 dBFS white noise, of
which one ERB band holds a small fraction), so dither and float noise never reach the
features.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np
from scipy.signal import resample_poly

from symphony.errors import ParameterError

ANALYSIS_RATE = 22050
HOP = 4096
WINDOW = 8192
N_BANDS = 20
BAND_LOW_HZ = 40.0
BAND_HIGH_HZ = ANALYSIS_RATE / 2
CHROMA_LOW_HZ = 65.4    # C2
CHROMA_HIGH_HZ = 4186.0  # C8
FLOOR_DB = -90.0
BAND_STEP_DB = 1.0
CHROMA_STEP_DB = 1.0
BALANCE_STEP_DB = 1.0
N_BALANCE = 4
N_PAIRS = N_BANDS // 2
TIMING_STEP_MS = 4.0
PITCH_STEP_SEMITONES = 0.1
#: ``timing`` and ``pitch`` are stored where a band pair is louder than this (else 0).
CENTROID_FLOOR_DB = -70.0

ONSET_HOP = 128
ONSET_WINDOW = 1024
ONSET_FLOOR_DB = -100.0
#: Magnitudes more than this under the piece's loud frames (99th percentile of the
#: per-frame maximum) count as the floor too.
ONSET_RANGE_DB = 70.0
#: Band groups of the onset detector, Hz (low, high).
ONSET_GROUPS_HZ = ((30.0, 200.0), (200.0, 1000.0), (1000.0, 4000.0), (4000.0, 11025.0))
#: Peak picking: local maximum within +-3 hops, above the +-10-hop mean by this much (dB per bin).
ONSET_THRESHOLD_DB = 3.0
ONSET_MAX_HALF = 3
ONSET_MEAN_HALF = 10
ONSET_TIME_STEP_S = 2e-4
#: The flux of a centred 46 ms window peaks this long before a sharp onset (measured on
#: decaying noise bursts: 17.5 +- 0.3 ms); added so reported times are the onsets' own.
ONSET_LATENCY_S = 0.0175
ONSET_STRENGTH_STEP_DB = 0.25


def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (exact overlap-add at hop n/2 and n/4)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def erb_band_edges(n_bands: int = N_BANDS, low_hz: float = BAND_LOW_HZ,
                   high_hz: float = BAND_HIGH_HZ) -> np.ndarray:
    """Edges (n_bands + 1,) in Hz, equally spaced on the ERB-rate scale.

    ERB-rate (Glasberg & Moore 1990, eq. 4): ``E(f) = 21.4 log10(1 + 0.00437 f)``.

    Examples
    --------
    >>> edges = erb_band_edges()
    >>> len(edges), float(edges[0]), float(edges[-1])
    (21, 40.0, 11025.0)
    """
    def erbs(f):
        return 21.4 * np.log10(1.0 + 0.00437 * f)

    e = np.linspace(erbs(low_hz), erbs(high_hz), n_bands + 1)
    edges = (10.0 ** (e / 21.4) - 1.0) / 0.00437
    edges[0], edges[-1] = low_hz, high_hz
    return edges


def to_analysis_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(channels, n)`` at ``sample_rate`` -> ``(channels, m)`` float64 at ``ANALYSIS_RATE``.

    Polyphase resampling (``scipy.signal.resample_poly``, Kaiser window) when the rates differ.
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 1:
        x = x[np.newaxis, :]
    if x.ndim != 2:
        raise ParameterError(f"audio must have shape (channels, n), got {x.shape}")
    if not np.isfinite(x).all():
        raise ParameterError("audio holds NaN or Inf samples; a fingerprint needs finite audio")
    sample_rate = int(sample_rate)
    if sample_rate <= 0:
        raise ParameterError(f"sample_rate must be > 0 Hz, got {sample_rate}")
    if sample_rate == ANALYSIS_RATE:
        return x
    g = gcd(ANALYSIS_RATE, sample_rate)
    return resample_poly(x, ANALYSIS_RATE // g, sample_rate // g, axis=-1)


def _frames(x: np.ndarray, window: int, hop: int, n_frames: int) -> np.ndarray:
    """``(..., n)`` -> ``(..., n_frames, window)`` windowed frames centred on ``k * hop``."""
    pad = window // 2
    need = (n_frames - 1) * hop + window
    padded = np.zeros(x.shape[:-1] + (max(need, x.shape[-1] + 2 * pad),))
    padded[..., pad:pad + x.shape[-1]] = x
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)[..., ::hop, :]
    return view[..., :n_frames, :] * _hann(window)


def _quantize(values: np.ndarray, step: float) -> np.ndarray:
    return np.round(values / step) * step


def _to_db(power: np.ndarray) -> np.ndarray:
    return np.maximum(10.0 * np.log10(np.maximum(power, 1e-30)), FLOOR_DB)


@dataclass(frozen=True)
class Onsets:
    """Sparse onset list: ``times_s`` (float64), ``groups`` (int8), ``strengths_db`` (float64)."""

    times_s: np.ndarray
    groups: np.ndarray
    strengths_db: np.ndarray

    def __len__(self) -> int:
        return int(self.times_s.size)


def n_feature_frames(n_samples: int) -> int:
    """Frames of the ``HOP`` grid for ``n_samples`` at the analysis rate (frame k at k * HOP)."""
    return 1 + max(int(n_samples) - 1, 0) // HOP


def _band_matrix(window: int) -> np.ndarray:
    """(bins, N_BANDS) 0/1 matrix: each FFT bin belongs to the band holding its centre."""
    freqs = np.fft.rfftfreq(window, 1.0 / ANALYSIS_RATE)
    edges = erb_band_edges()
    idx = np.searchsorted(edges, freqs, side="right") - 1
    m = np.zeros((freqs.size, N_BANDS))
    ok = (idx >= 0) & (idx < N_BANDS)
    m[np.nonzero(ok)[0], idx[ok]] = 1.0
    return m


def _chroma_matrix(window: int) -> np.ndarray:
    """(bins, 12) soft assignment of bins to pitch classes (C = 0), linear in cents."""
    freqs = np.fft.rfftfreq(window, 1.0 / ANALYSIS_RATE)
    m = np.zeros((freqs.size, 12))
    sel = np.nonzero((freqs >= CHROMA_LOW_HZ) & (freqs <= CHROMA_HIGH_HZ))[0]
    pitch = 69.0 + 12.0 * np.log2(freqs[sel] / 440.0)
    lower = np.floor(pitch)
    frac = pitch - lower
    m[sel, lower.astype(int) % 12] += 1.0 - frac
    m[sel, (lower.astype(int) + 1) % 12] += frac
    return m


@dataclass(frozen=True)
class Grids:
    """The frame-grid features (each ``(frames, columns)`` float64, quantized)."""

    bands: np.ndarray
    chroma: np.ndarray
    balance: np.ndarray
    timing: np.ndarray
    pitch: np.ndarray


def pair_centres_semitones() -> np.ndarray:
    """Centre of each band pair on the log-frequency axis, semitones re 440 Hz."""
    edges = erb_band_edges()
    return 12.0 * np.log2(np.sqrt(edges[:-1:2] * edges[2::2]) / 440.0)


def grid_features(x: np.ndarray) -> Grids:
    """``(channels, n)`` at the analysis rate -> the frame-grid features (dB, ms, semitones).

    ``bands``: power of the mid ``(L + R) / 2`` per ERB band (a full-scale sine reads -3.01 dB);
    ``chroma``: power of the mid per pitch class (C first), bins 65 Hz - 4.2 kHz;
    ``balance``: ``10 log10(P_left / P_right)`` per quarter of the bands (0 for mono);
    ``timing``: time centroid per band pair, ``sum Re(X_t conj(X)) / sum |X|^2`` with ``X_t``
    the spectrum of the frame times ``t`` (reassignment, Auger & Flandrin 1995, eq. 23), ms;
    ``pitch``: ``sum |X|^2 12 log2(f / 440) / sum |X|^2`` per band pair minus the pair centre.
    """
    n_frames = n_feature_frames(x.shape[-1])
    w = _hann(WINDOW)
    frames = _frames(x[:2], WINDOW, HOP, n_frames)  # (channels<=2, frames, WINDOW)
    spec = np.fft.rfft(frames, axis=-1)
    mid = spec.mean(axis=0)
    # Parseval: the one-sided |X|^2 of a sine of amplitude A sums to WINDOW * sum(w^2) * A^2 / 4
    norm = 2.0 / (WINDOW * np.sum(w ** 2))
    power = (mid.real ** 2 + mid.imag ** 2) * norm
    band_m = _band_matrix(WINDOW)
    band_power = power @ band_m
    bands = _quantize(_to_db(band_power), BAND_STEP_DB)
    chroma = _quantize(_to_db(power @ _chroma_matrix(WINDOW)), CHROMA_STEP_DB)
    if spec.shape[0] >= 2:
        groups = band_m.reshape(band_m.shape[0], N_BALANCE, N_BANDS // N_BALANCE).sum(axis=2)
        side = (spec.real ** 2 + spec.imag ** 2) * norm
        balance = _quantize(_to_db(side[0] @ groups) - _to_db(side[1] @ groups), BALANCE_STEP_DB)
    else:
        balance = np.zeros((n_frames, N_BALANCE))
    pairs = band_m.reshape(band_m.shape[0], N_PAIRS, 2).sum(axis=2)
    pair_power = power @ pairs
    loud = _to_db(pair_power) > CENTROID_FLOOR_DB
    safe = np.maximum(pair_power, 1e-30)
    tau = (np.arange(WINDOW) - WINDOW / 2) / ANALYSIS_RATE
    mid_t = np.fft.rfft(frames.mean(axis=0) * tau, axis=-1)
    timing_ms = ((mid_t.real * mid.real + mid_t.imag * mid.imag) * norm @ pairs) / safe * 1000.0
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / ANALYSIS_RATE)
    semis = 12.0 * np.log2(np.maximum(freqs, 1.0) / 440.0)
    pitch = (power * semis) @ pairs / safe - pair_centres_semitones()
    return Grids(bands=bands, chroma=chroma, balance=balance,
                 timing=np.where(loud, _quantize(timing_ms, TIMING_STEP_MS), 0.0),
                 pitch=np.where(loud, _quantize(pitch, PITCH_STEP_SEMITONES), 0.0))


def onset_features(x: np.ndarray) -> Onsets:
    """Spectral-flux onsets of the mid per band group (Bello et al. 2005, "A tutorial on
    onset detection in music signals", eq. 4, on dB magnitudes with a floor).

    A peak is a local maximum within +-``ONSET_MAX_HALF`` hops that exceeds the mean of
    +-``ONSET_MEAN_HALF`` hops by ``ONSET_THRESHOLD_DB``; its time is refined by a parabola
    through the peak and its neighbours. The strength is the height above that mean.
    """
    mid = x.mean(axis=0)
    n_frames = 1 + max(mid.size - 1, 0) // ONSET_HOP
    w = _hann(ONSET_WINDOW)
    spec = np.abs(np.fft.rfft(_frames(mid, ONSET_WINDOW, ONSET_HOP, n_frames), axis=-1))
    mag_db = 20.0 * np.log10(np.maximum(spec * (2.0 / w.sum()), 10.0 ** (ONSET_FLOOR_DB / 20.0)))
    # The floor is absolute (noise stays out) and relative to the piece (a gain change moves
    # every magnitude and the floor alike, so the flux and its peaks do not move).
    if mag_db.size:
        loud = float(np.percentile(mag_db.max(axis=1), 99.0))
        mag_db = np.maximum(mag_db, max(ONSET_FLOOR_DB, loud - ONSET_RANGE_DB))
    rise = np.maximum(np.diff(mag_db, axis=0, prepend=mag_db[:1]), 0.0)
    freqs = np.fft.rfftfreq(ONSET_WINDOW, 1.0 / ANALYSIS_RATE)
    times, groups, strengths = [], [], []
    for g, (low, high) in enumerate(ONSET_GROUPS_HZ):
        sel = (freqs >= low) & (freqs < high)
        flux = rise[:, sel].mean(axis=1)
        t, s = _pick_peaks(flux)
        times.append(t * ONSET_HOP / ANALYSIS_RATE + ONSET_LATENCY_S)
        groups.append(np.full(t.size, g, dtype=np.int8))
        strengths.append(s)
    times_s = np.concatenate(times)
    order = np.argsort(times_s, kind="stable")
    return Onsets(
        times_s=np.round(times_s[order] / ONSET_TIME_STEP_S) * ONSET_TIME_STEP_S,
        groups=np.concatenate(groups)[order],
        strengths_db=_quantize(np.concatenate(strengths)[order], ONSET_STRENGTH_STEP_DB))


def _pick_peaks(flux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peak positions (fractional hops) and heights above the local mean."""
    n = flux.size
    if n < 3:
        return np.zeros(0), np.zeros(0)
    padded = np.pad(flux, ONSET_MAX_HALF, mode="constant", constant_values=-np.inf)
    local_max = np.lib.stride_tricks.sliding_window_view(padded, 2 * ONSET_MAX_HALF + 1).max(axis=1)
    # mean of the +-ONSET_MEAN_HALF neighbourhood that lies inside the signal
    cumulative = np.concatenate([[0.0], np.cumsum(flux)])
    lo = np.clip(np.arange(n) - ONSET_MEAN_HALF, 0, n)
    hi = np.clip(np.arange(n) + ONSET_MEAN_HALF + 1, 0, n)
    local_mean = (cumulative[hi] - cumulative[lo]) / (hi - lo)
    height = flux - local_mean
    # ties (flat tops) keep only the first sample of the plateau
    first = np.concatenate([[True], flux[1:] != flux[:-1]])
    peaks = np.nonzero((flux == local_max) & (height >= ONSET_THRESHOLD_DB) & first)[0]
    peaks = peaks[(peaks > 0) & (peaks < n - 1)]
    a, b, c = flux[peaks - 1], flux[peaks], flux[peaks + 1]
    denom = a - 2.0 * b + c
    safe = np.where(denom < 0.0, denom, -1.0)
    offset = np.where(denom < 0.0, 0.5 * (a - c) / safe, 0.0)
    return peaks + np.clip(offset, -0.5, 0.5), height[peaks]
