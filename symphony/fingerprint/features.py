"""Time-frequency features of a regression fingerprint (format version 2).

Everything is computed on a fixed analysis grid at ``ANALYSIS_RATE`` (22050 Hz) so that
fingerprints of renders at other rates stay comparable. Six features, each chosen for a
kind of musical change:

``bands``   (frames, 20) log power in ERB-spaced bands, dB: level, timbre, balance of sections,
            filters. ``HOP`` = 8192 samples (371.5 ms), Hann window 16384 (743 ms).
``chroma``  (frames, 12) power per pitch class in dB under the frame's strongest class, in
            6 dB steps down to -24 dB: which pitch classes sound (linear soft assignment in
            cents, so a note 50 cents sharp splits its power between two classes).
``balance`` (frames, 4) left/right power ratio per quarter of the band range, dB: panning.
``timing``  (frames, 5) reassigned time centroid per group of 4 bands, ms from the frame
            centre (Auger & Flandrin 1995): when the sound in a band happens inside the frame,
            so a note 20 ms late moves it even when another onset masks its own.
``pitch``   (frames, 5) power-weighted mean log-frequency per group of 4 bands, semitones
            from the group's centre: a note 50 cents sharp moves it in the bands it dominates.
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
import scipy.fft
from scipy.signal import resample_poly

from symphony.errors import ParameterError

ANALYSIS_RATE = 22050
#: Frame grid of the band, chroma, balance and centroid features: 371.5 ms apart, 743 ms long.
HOP = 8192
WINDOW = 16384
N_BANDS = 20
BAND_LOW_HZ = 40.0
BAND_HIGH_HZ = ANALYSIS_RATE / 2
CHROMA_LOW_HZ = 65.4    # C2
CHROMA_HIGH_HZ = 4186.0  # C8
FLOOR_DB = -90.0
BAND_STEP_DB = 1.0
#: Chroma is stored under the frame's strongest class, clipped to -CHROMA_RANGE_DB.
CHROMA_STEP_DB = 6.0
CHROMA_RANGE_DB = 24.0
#: Frames whose strongest pitch class is quieter hold no chroma (every class at -CHROMA_RANGE_DB).
CHROMA_ACTIVE_DB = -70.0
BALANCE_STEP_DB = 1.0
N_BALANCE = 4
#: Bands per group of the ``timing`` and ``pitch`` centroids.
CENTROID_WIDTH = 4
N_CENTROIDS = N_BANDS // CENTROID_WIDTH
TIMING_STEP_MS = 4.0
PITCH_STEP_SEMITONES = 0.125
#: ``timing`` and ``pitch`` are kept where a band group is louder than this and within
#: ``CENTROID_RANGE_DB`` of the frame's loudest group (else 0): see :func:`centroid_mask`.
CENTROID_FLOOR_DB = -64.0
CENTROID_RANGE_DB = 50.0
#: Frames of the grid are computed this many at a time (memory stays bounded).
GRID_CHUNK = 128
#: Frames whose samples all stay under this are silent: every feature reads its floor value.
SILENT_PEAK = 1e-5

ONSET_HOP = 128
ONSET_WINDOW = 1024
ONSET_FLOOR_DB = -100.0
#: Onset frames whose samples stay under this sit at ``ONSET_FLOOR_DB`` in every bin
#: (``|X| 2 / sum(w) <= 2 max|x|``), so they are not transformed.
ONSET_SILENT_PEAK = 4e-6
ONSET_CHUNK = 4096
#: Magnitudes more than this under the piece's loud frames (99th percentile of the
#: per-frame maximum) count as the floor too.
ONSET_RANGE_DB = 70.0
#: Band groups of the onset detector, Hz (low, high).
ONSET_GROUPS_HZ = ((30.0, 200.0), (200.0, 1000.0), (1000.0, 4000.0), (4000.0, 11025.0))
#: Peak picking: local maximum within +-3 hops, above the +-10-hop mean by this much (dB per bin).
ONSET_THRESHOLD_DB = 3.0
ONSET_MAX_HALF = 3
ONSET_MEAN_HALF = 10
ONSET_TIME_STEP_S = 1e-3
#: The flux of a centred 46 ms window peaks this long before a sharp onset (measured on
#: decaying noise bursts: 17.5 +- 0.3 ms); added so reported times are the onsets' own.
ONSET_LATENCY_S = 0.0175
ONSET_STRENGTH_STEP_DB = 1.0


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
    """``(channels, n)`` at ``sample_rate`` -> ``(channels, m)`` at ``ANALYSIS_RATE``.

    float32 audio at that rate stays float32 (the features compute in float64 chunk by chunk).

    Polyphase resampling (``scipy.signal.resample_poly``, Kaiser window) when the rates differ.
    """
    x = np.asarray(audio)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
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
    return resample_poly(x.astype(np.float64), ANALYSIS_RATE // g, sample_rate // g, axis=-1)


def _frame_view(x: np.ndarray, window: int, hop: int, n_frames: int) -> np.ndarray:
    """``(channels, n)`` -> read-only view ``(channels, n_frames, window)`` of the frames
    centred on ``k * hop`` (zeros outside the signal; one padded copy of ``x``, not windowed)."""
    pad = window // 2
    need = (n_frames - 1) * hop + window
    padded = np.zeros((x.shape[0], max(need, x.shape[-1] + 2 * pad)))
    padded[:, pad:pad + x.shape[-1]] = x
    return np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)[:, ::hop][:, :n_frames]


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


def _band_starts(window: int) -> tuple[int, np.ndarray]:
    """The bins of the bands as ``(first, starts)``: band k holds bins ``starts[k]`` to
    ``starts[k + 1] - 1`` (the last band ends at ``starts[-1]``), as in :func:`_band_matrix`."""
    m = _band_matrix(window)
    owner = np.nonzero(m.any(axis=1))[0]
    starts = np.array([int(np.nonzero(m[:, k])[0][0]) for k in range(N_BANDS)] + [int(owner[-1]) + 1])
    if np.any(np.diff(starts) <= 0):
        raise AssertionError("an analysis band holds no FFT bin")
    return int(starts[0]), starts


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


def centroid_centres_semitones() -> np.ndarray:
    """Centre of each centroid band group on the log-frequency axis, semitones re 440 Hz."""
    edges = erb_band_edges()
    return 12.0 * np.log2(np.sqrt(edges[:-1:CENTROID_WIDTH] * edges[CENTROID_WIDTH::CENTROID_WIDTH]) / 440.0)


def centroid_mask(bands: np.ndarray) -> np.ndarray:
    """``(frames, N_CENTROIDS)`` bool: band groups whose ``timing`` and ``pitch`` are kept.

    A group counts when its power (summed from the quantized ``bands``) is above
    ``CENTROID_FLOOR_DB`` and within ``CENTROID_RANGE_DB`` of the frame's loudest group: the
    centroid of a quiet group is dominated by leakage and noise. The comparison uses the same
    mask (in both fingerprints), so values outside it are stored as 0 and cost nothing.
    """
    n = bands.shape[0]
    group_db = 10.0 * np.log10((10.0 ** (bands / 10.0)).reshape(n, N_CENTROIDS, CENTROID_WIDTH).sum(axis=2))
    if n == 0:
        return np.zeros((0, N_CENTROIDS), dtype=bool)
    return (group_db > CENTROID_FLOOR_DB) & (group_db > group_db.max(axis=1, keepdims=True) - CENTROID_RANGE_DB)


def _silent(x: np.ndarray, window: int, hop: int, n_frames: int, limit: float) -> np.ndarray:
    """``(n_frames,)`` bool: frames whose every sample (all channels) has ``|x| <= limit``.

    ``window`` must be a multiple of ``hop``: the peak of each hop-long block, then of the
    ``window // hop`` blocks a frame covers.
    """
    pad = window // 2
    per = window // hop
    n_blocks = n_frames + per - 1
    padded_peak = np.zeros(n_blocks * hop)
    n = min(x.shape[-1], n_blocks * hop - pad)
    if n > 0:
        peak = padded_peak[pad:pad + n]
        np.abs(x[0, :n], out=peak)
        for channel in x[1:]:
            np.maximum(peak, np.abs(channel[:n]), out=peak)
    block_peak = padded_peak.reshape(n_blocks, hop).max(axis=1)
    spans = np.lib.stride_tricks.sliding_window_view(block_peak, per)[:n_frames]
    return spans.max(axis=1) <= limit


def grid_features(x: np.ndarray) -> Grids:
    """``(channels, n)`` at the analysis rate -> the frame-grid features (dB, ms, semitones).

    ``bands``: power of the mid ``(L + R) / 2`` per ERB band (a full-scale sine reads -3.01 dB);
    ``chroma``: power per pitch class (C first, bins 65 Hz - 4.2 kHz) of the mid, in dB under
    the frame's strongest class, clipped to ``-CHROMA_RANGE_DB``; a frame whose strongest class
    is under ``CHROMA_ACTIVE_DB`` reads ``-CHROMA_RANGE_DB`` in every class (none is 0);
    ``balance``: ``10 log10(P_left / P_right)`` per quarter of the bands (0 for mono);
    ``timing``: time centroid per group of ``CENTROID_WIDTH`` bands, ``sum Re(X_t conj(X)) /
    sum |X|^2`` with ``X_t`` the spectrum of the frame times ``t`` (reassignment, Auger &
    Flandrin 1995, eq. 23), ms; ``pitch``: ``sum |X|^2 12 log2(f / 440) / sum |X|^2`` per group
    minus the group's centre; both 0 outside :func:`centroid_mask`.

    Frames are computed ``GRID_CHUNK`` at a time (bounded memory for whole chapters); frames
    whose samples all stay under ``SILENT_PEAK`` are not transformed: every band of such a
    frame is under the floor (Parseval: a frame's power is at most ``2 max|x|^2``), so they
    read the floor values exactly.
    """
    x = x[:2]
    n_frames = n_feature_frames(x.shape[-1])
    w = _hann(WINDOW)
    # Parseval: the one-sided |X|^2 of a sine of amplitude A sums to WINDOW * sum(w^2) * A^2 / 4
    norm = 2.0 / (WINDOW * np.sum(w ** 2))
    first, starts = _band_starts(WINDOW)
    last = int(starts[-1])
    offsets = starts[:-1] - first
    chroma_m = _chroma_matrix(WINDOW)
    chroma_bins = np.nonzero(chroma_m.any(axis=1))[0]
    c_lo, c_hi = int(chroma_bins[0]), int(chroma_bins[-1]) + 1
    chroma_m = chroma_m[c_lo:c_hi]
    tau = (np.arange(WINDOW) - WINDOW / 2) / ANALYSIS_RATE
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / ANALYSIS_RATE)
    semis = (12.0 * np.log2(np.maximum(freqs, 1.0) / 440.0))[first:last]
    band_power = np.zeros((n_frames, N_BANDS))
    chroma_power = np.zeros((n_frames, 12))
    side_power = np.zeros((2, n_frames, N_BANDS))
    timing_moment = np.zeros((n_frames, N_BANDS))
    pitch_moment = np.zeros((n_frames, N_BANDS))
    view = _frame_view(x, WINDOW, HOP, n_frames)
    active = np.nonzero(~_silent(x, WINDOW, HOP, n_frames, SILENT_PEAK))[0]
    for c0 in range(0, active.size, GRID_CHUNK):
        idx = active[c0:c0 + GRID_CHUNK]
        frames = view[:, idx] * w  # (channels, k, WINDOW)
        spec = scipy.fft.rfft(frames, axis=-1)
        mid = spec.mean(axis=0) if spec.shape[0] > 1 else spec[0]
        power = (mid.real ** 2 + mid.imag ** 2) * norm
        # bands are contiguous runs of bins: sums per run (np.add.reduceat)
        band_power[idx] = np.add.reduceat(power[:, first:last], offsets, axis=1)
        chroma_power[idx] = power[:, c_lo:c_hi] @ chroma_m
        if spec.shape[0] >= 2:
            for ch in range(2):
                side = spec[ch, :, first:last]
                side_power[ch, idx] = np.add.reduceat((side.real ** 2 + side.imag ** 2) * norm, offsets, axis=1)
        mid_t = scipy.fft.rfft(frames.mean(axis=0) * tau, axis=-1)[:, first:last]
        m = mid[:, first:last]
        timing_moment[idx] = np.add.reduceat((mid_t.real * m.real + mid_t.imag * m.imag) * norm, offsets, axis=1)
        pitch_moment[idx] = np.add.reduceat(power[:, first:last] * semis, offsets, axis=1)

    def by(values: np.ndarray, n_groups: int) -> np.ndarray:
        return values.reshape(values.shape[0], n_groups, N_BANDS // n_groups).sum(axis=2)

    group_power = by(band_power, N_CENTROIDS)
    timing_ms = by(timing_moment, N_CENTROIDS) * 1000.0
    pitch_moment = by(pitch_moment, N_CENTROIDS)
    side_power = np.stack([by(side_power[0], N_BALANCE), by(side_power[1], N_BALANCE)])
    bands = _quantize(_to_db(band_power), BAND_STEP_DB)
    chroma_db = _to_db(chroma_power)
    strongest = chroma_db.max(axis=1, keepdims=True)
    chroma = np.maximum(_quantize(chroma_db - strongest, CHROMA_STEP_DB), -CHROMA_RANGE_DB)
    chroma[strongest[:, 0] <= CHROMA_ACTIVE_DB] = -CHROMA_RANGE_DB
    if x.shape[0] >= 2:
        balance = _quantize(_to_db(side_power[0]) - _to_db(side_power[1]), BALANCE_STEP_DB)
    else:
        balance = np.zeros((n_frames, N_BALANCE))
    keep = centroid_mask(bands)
    safe = np.maximum(group_power, 1e-30)
    pitch = pitch_moment / safe - centroid_centres_semitones()
    return Grids(bands=bands, chroma=chroma, balance=balance + 0.0,
                 timing=np.where(keep, _quantize(timing_ms / safe, TIMING_STEP_MS), 0.0) + 0.0,
                 pitch=np.where(keep, _quantize(pitch, PITCH_STEP_SEMITONES), 0.0) + 0.0)


def onset_features(x: np.ndarray) -> Onsets:
    """Spectral-flux onsets of the mid per band group (Bello et al. 2005, "A tutorial on
    onset detection in music signals", eq. 4, on dB magnitudes with a floor).

    A peak is a local maximum within +-``ONSET_MAX_HALF`` hops that exceeds the mean of
    +-``ONSET_MEAN_HALF`` hops by ``ONSET_THRESHOLD_DB``; its time is refined by a parabola
    through the peak and its neighbours. The strength is the height above that mean.
    Magnitudes are kept as float32 dB (half the memory of a whole chapter's spectrogram).
    """
    mid = x.mean(axis=0, dtype=np.float64)[np.newaxis] if x.shape[-1] else np.zeros((1, 0))
    n_frames = 1 + max(mid.shape[-1] - 1, 0) // ONSET_HOP
    w = _hann(ONSET_WINDOW)
    floor_mag = 10.0 ** (ONSET_FLOOR_DB / 20.0)
    mag_db = np.full((n_frames, ONSET_WINDOW // 2 + 1), np.log10(np.float32(floor_mag)) * np.float32(20.0),
                     dtype=np.float32)
    view = _frame_view(mid, ONSET_WINDOW, ONSET_HOP, n_frames)[0]
    active = np.nonzero(~_silent(mid, ONSET_WINDOW, ONSET_HOP, n_frames, ONSET_SILENT_PEAK))[0]
    # float32 transforms: rounding errors sit ~140 dB under a frame's level, far under the
    # floor (70 dB under the piece's loud frames)
    w32 = (w * (2.0 / w.sum())).astype(np.float32)  # window and magnitude scale in one
    for c0 in range(0, active.size, ONSET_CHUNK):
        idx = active[c0:c0 + ONSET_CHUNK]
        frames = view[idx].astype(np.float32)
        frames *= w32
        spec = np.abs(scipy.fft.rfft(frames, axis=-1))
        np.maximum(spec, np.float32(floor_mag), out=spec)
        mag_db[idx] = np.log10(spec) * np.float32(20.0)
    # The floor is absolute (noise stays out) and relative to the piece (a gain change moves
    # every magnitude and the floor alike, so the flux and its peaks do not move).
    if mag_db.size:
        loud = float(np.percentile(mag_db.max(axis=1), 99.0))
        np.maximum(mag_db, np.float32(max(ONSET_FLOOR_DB, loud - ONSET_RANGE_DB)), out=mag_db)
    freqs = np.fft.rfftfreq(ONSET_WINDOW, 1.0 / ANALYSIS_RATE)
    # the groups are contiguous runs of bins: slices, not masks (no copies)
    bins = [(int(np.searchsorted(freqs, low)), int(np.searchsorted(freqs, high))) for low, high in ONSET_GROUPS_HZ]
    flux = np.zeros((len(ONSET_GROUPS_HZ), n_frames))
    # rise is 0 where a frame and the one before are silent (both rows sit at the floor)
    rows = np.union1d(active, np.minimum(active + 1, n_frames - 1)) if active.size else active
    for c0 in range(0, rows.size, ONSET_CHUNK):
        r = rows[c0:c0 + ONSET_CHUNK]
        rise = mag_db[r] - mag_db[np.maximum(r - 1, 0)]
        np.maximum(rise, 0.0, out=rise)
        for g, (lo, hi) in enumerate(bins):
            flux[g, r] = rise[:, lo:hi].sum(axis=1, dtype=np.float64) / (hi - lo)
    times, groups, strengths = [], [], []
    for g in range(len(ONSET_GROUPS_HZ)):
        t, s = _pick_peaks(flux[g])
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
