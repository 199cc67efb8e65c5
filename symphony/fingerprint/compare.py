"""Compare two fingerprints with calibrated tolerances and say where they differ.

Decision rules (each one a ``Finding`` when it fires; "same" means no finding):

- **length**: durations differ by more than ``length_s``.
- **level**: the median over sounding frames of the per-frame mean band difference exceeds
  ``level_db`` (a gain change of the whole mix).
- **spectrum**: in a sliding window of ``cell_frames`` frames x ``cell_bands`` bands, the mean
  band difference (after removing a reported overall level change) exceeds ``cell_mean_db``,
  or its RMS exceeds ``cell_rms_db``.
- **pitch**: chroma is stored relative to the frame's strongest class (so level does not
  count); its RMS difference over ``cell_frames`` frames (at least two with chroma) exceeds
  ``chroma_rms_db``.
- **stereo**: the mean left/right balance difference over ``cell_frames`` frames exceeds
  ``balance_db``.
- **timing**: in a band group kept in both (``features.centroid_mask``), the RMS difference
  of the time centroids over ``cell_frames`` frames exceeds ``timing_ms`` (a note early or
  late, even under another onset).
- **tuning**: likewise for the pitch centroids, ``pitch_semitones`` (a note sharp or flat).
- **onsets**: onsets are paired within +-``onset_match_s`` in the same band group; a pair more
  than ``onset_ms`` apart has moved; an unpaired onset stronger than the detection threshold
  plus ``onset_margin_db`` was added or removed.

Quantized features (1 dB bands, 6 dB chroma, 4 ms, 0.125 semitone) make a difference below
one step a coin flip, so every rule works on means over many values, never on single values.
``docs/fingerprints.md`` shows the margins: numerical noise leaves the statistics far below
these tolerances, the smallest musical changes of the calibration suite far above.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter, uniform_filter1d

from symphony.fingerprint import features as F
from symphony.fingerprint.fileformat import Fingerprint
from symphony.fingerprint.timegrid import TimeGrid

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MIN_CELL_SHARE = 0.3        # share of sounding values a band cell needs to be judged
#: Frames of a 5-frame window that must sound (in both, for centroids) to judge it: one
#: quantization step flipped in a judged window stays under the tolerance.
MIN_FRAMES = {"timing": 2, "tuning": 2, "balance": 3, "chroma": 2}


@dataclass(frozen=True)
class Tolerances:
    """Calibrated thresholds of :func:`compare` (see docs/fingerprints.md)."""

    length_s: float = 0.05
    level_db: float = 0.2
    cell_frames: int = 5
    cell_bands: int = 4
    cell_mean_db: float = 0.4
    cell_rms_db: float = 1.0
    chroma_rms_db: float = 2.5
    balance_db: float = 0.5
    timing_ms: float = 3.0
    pitch_semitones: float = 0.1
    onset_match_s: float = 0.06
    onset_ms: float = 6.0
    onset_margin_db: float = 1.5
    #: Remove one overall gain difference instead of reporting it (a loudness-normalized
    #: render against un-normalized goldens).
    ignore_level: bool = False

    def scaled(self, factor: float) -> "Tolerances":
        """All amplitude and time tolerances multiplied by ``factor`` (window sizes kept)."""
        return replace(self, **{k: getattr(self, k) * factor for k in
                                ("length_s", "level_db", "cell_mean_db", "cell_rms_db", "chroma_rms_db",
                                 "balance_db", "timing_ms", "pitch_semitones", "onset_ms", "onset_margin_db")})


@dataclass
class Finding:
    """One place where the music differs.

    ``start_s``/``end_s`` are file times (seconds); ``low_hz``/``high_hz`` the frequency range
    (None: all); ``value`` is in ``unit`` (dB or ms); ``detail`` is the human sentence.
    """

    kind: str
    start_s: float
    end_s: float
    low_hz: float | None
    high_hz: float | None
    value: float
    unit: str
    detail: str
    where: str = ""


@dataclass
class Comparison:
    """Result of :func:`compare`: verdict, similarity in [0, 1], findings, statistics."""

    same: bool
    similarity: float
    findings: list[Finding]
    stats: dict[str, float]
    a_name: str = "a"
    b_name: str = "b"
    audio_sha256_equal: bool | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"same": self.same, "similarity": round(self.similarity, 4), "a": self.a_name,
                "b": self.b_name, "audio_sha256_equal": self.audio_sha256_equal,
                "stats": {k: round(v, 4) for k, v in self.stats.items()}, "notes": self.notes,
                "findings": [asdict(f) for f in self.findings]}


def _band_edges() -> np.ndarray:
    return F.erb_band_edges()


def _hz(value: float) -> str:
    return f"{value / 1000:.1f} kHz" if value >= 1000 else f"{value:.0f} Hz"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges where ``mask`` is true."""
    padded = np.concatenate([[False], mask, [False]])
    d = np.diff(padded.astype(np.int8))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist()))


def _window_mean(values: np.ndarray, weights: np.ndarray, size: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted moving mean along ``axis`` (centred, ``size`` wide) and the weight sum."""
    num = uniform_filter1d(values * weights, size, axis=axis, mode="constant")
    den = uniform_filter1d(weights, size, axis=axis, mode="constant")
    return num / np.maximum(den, 1e-12), den


def _span(changed: np.ndarray, start: int, stop: int, half: int) -> tuple[int, int]:
    """Frames ``[f0, f1)`` that actually differ around a flagged run ``[start, stop)``.

    A flagged cell centre stands for ``half`` frames either side; of those, only frames
    whose values changed at all are kept (numerical noise leaves the rest exactly equal).
    """
    n = changed.size
    lo, hi = max(start - half, 0), min(stop + half, n)
    idx = np.nonzero(changed[lo:hi])[0]
    if idx.size == 0:
        return start, stop
    return lo + int(idx[0]), lo + int(idx[-1]) + 1


def _level_shift(diff: np.ndarray, ba: np.ndarray, bb: np.ndarray) -> float:
    """Median over sounding frames (a quarter of the bands above the floor) of the mean
    band difference: the overall gain of ``a`` relative to ``b``, robust to local changes."""
    active = (np.maximum(ba, bb) > F.FLOOR_DB + 10.0).astype(np.float64)
    frame_active = active.sum(axis=1) >= 0.25 * F.N_BANDS
    frame_mean = (diff * active).sum(axis=1) / np.maximum(active.sum(axis=1), 1.0)
    return float(np.median(frame_mean[frame_active])) if frame_active.any() else 0.0


def _seconds(f0: int, f1: int, hop_s: float) -> tuple[float, float]:
    """Frame centres ``f0 .. f1 - 1`` widened by half a hop."""
    return max(f0 * hop_s - hop_s / 2, 0.0), (f1 - 1) * hop_s + hop_s / 2


def compare(a: Fingerprint, b: Fingerprint, *, tolerances: Tolerances | None = None,
            grid: TimeGrid | None = None, a_name: str = "a", b_name: str = "b") -> Comparison:
    """Compare fingerprint ``a`` (new) with ``b`` (reference).

    Parameters
    ----------
    a, b : Fingerprint
    tolerances : Tolerances, optional
    grid : TimeGrid, optional
        Labels times with bars; default: from ``a``'s or ``b``'s stored score timing.

    Returns
    -------
    Comparison
        ``same`` is True when no rule fires. Signs are ``a - b``: +1 dB means ``a`` is louder.
    """
    tol = tolerances or Tolerances()
    if grid is None:
        holder = a if a.score else b
        grid = TimeGrid(holder.score, start_seconds=float(holder.source.get("start_seconds", 0.0)),
                        segments=holder.source.get("segments"))
    hop_s = F.HOP / F.ANALYSIS_RATE
    findings: list[Finding] = []
    stats: dict[str, float] = {}
    notes: list[str] = []
    n = min(a.n_frames, b.n_frames)

    # -- length
    da, db_ = a.duration_seconds, b.duration_seconds
    stats["length_diff_s"] = da - db_
    if abs(da - db_) > tol.length_s:
        findings.append(Finding("length", min(da, db_), max(da, db_), None, None, (da - db_) * 1000.0, "ms",
                                f"duration {da:.3f} s vs {db_:.3f} s ({(da - db_) * 1000:+.0f} ms)"))
    for longer, sign in ((a, +1), (b, -1)):
        if longer.n_frames > n:
            extra = longer.bands[n:].max(axis=1) > F.FLOOR_DB + 20.0
            if extra.any():
                first = n + int(np.argmax(extra))
                who = "only in a" if sign > 0 else "only in b"
                findings.append(Finding("length", first * hop_s, longer.n_frames * hop_s, None, None, 0.0, "dB",
                                        f"sound {who} after the common length"))

    # -- level and spectrum (bands)
    ba, bb = a.bands[:n], b.bands[:n]
    if tol.ignore_level:
        # Align b to a's level, and lift both floors by the shift so that values which only
        # crossed a floor because of the gain count as floor in both.
        gain = _level_shift(ba - bb, ba, bb)
        lift = F.FLOOR_DB + abs(gain) + F.BAND_STEP_DB
        ba, bb = np.maximum(ba, lift), np.maximum(bb + gain, lift)
        notes.append(f"overall level difference of {gain:+.2f} dB ignored (--ignore-level)")
    diff = ba - bb
    active = (np.maximum(ba, bb) > F.FLOOR_DB + 10.0).astype(np.float64)
    shift = _level_shift(diff, ba, bb)
    stats["level_db"] = shift
    stats["bands_rms_db"] = float(np.sqrt((diff ** 2 * active).sum() / max(active.sum(), 1.0)))
    residual = diff
    mean_limit = tol.cell_mean_db
    if tol.ignore_level:
        # b was moved by a gain that is no multiple of the step: a steady cell's rounding
        # errors no longer cancel and can add up to half a step
        mean_limit += F.BAND_STEP_DB / 2
    if abs(shift) > tol.level_db:
        findings.append(Finding("level", 0.0, n * hop_s, None, None, shift, "dB",
                                f"overall level {shift:+.2f} dB (median over the sounding frames)"))
        residual = diff - shift
        mean_limit = tol.cell_mean_db + F.BAND_STEP_DB / 2  # as above
    size = (tol.cell_frames, tol.cell_bands)
    share = uniform_filter(active, size, mode="constant")
    means = uniform_filter(residual * active, size, mode="constant") / np.maximum(share, 1e-12)
    sq = uniform_filter(residual ** 2 * active, size, mode="constant") / np.maximum(share, 1e-12)
    rms = np.sqrt(np.maximum(sq, 0.0))
    # at least 30 % of the cell sounds: one value flipped by a quantization step then moves
    # the mean by <= 1/6 step and the rms by <= 0.41 step, under both tolerances
    valid = share >= MIN_CELL_SHARE - 1e-9
    stats["cell_mean_db_max"] = float(np.abs(means[valid]).max()) if valid.any() else 0.0
    stats["cell_rms_db_max"] = float(rms[valid].max()) if valid.any() else 0.0
    flagged = valid & ((np.abs(means) > mean_limit) | (rms > tol.cell_rms_db))
    edges = _band_edges()
    for start, stop in _runs(flagged.any(axis=1)):
        cols = np.nonzero(flagged[start:stop].any(axis=0))[0]
        lo, hi = int(cols.min()), int(cols.max())
        # widen by the cell half-width: a flagged cell centre stands for its neighbourhood
        lo_band, hi_band = max(lo - tol.cell_bands // 2, 0), min(hi + tol.cell_bands // 2, F.N_BANDS - 1)
        changed = (np.abs(residual[:, lo_band:hi_band + 1]) * active[:, lo_band:hi_band + 1] >= 0.5).any(axis=1)
        f0, f1 = _span(changed, start, stop, tol.cell_frames // 2)
        block, wts = residual[f0:f1, lo_band:hi_band + 1], active[f0:f1, lo_band:hi_band + 1]
        value = float((block * wts).sum() / max(wts.sum(), 1.0))
        peak = float(np.abs(block * wts).max())
        t0, t1 = _seconds(f0, f1, hop_s)
        findings.append(Finding("spectrum", t0, t1, float(edges[lo_band]), float(edges[hi_band + 1]), value, "dB",
                                f"{_hz(edges[lo_band])}-{_hz(edges[hi_band + 1])} {value:+.2f} dB on average, "
                                f"up to {peak:.1f} dB"))

    # -- pitch content (chroma, stored level-normalized: 0 dB = the frame's strongest class)
    na, nb = a.chroma[:n], b.chroma[:n]
    active_a, active_b = na.max(axis=1) > -F.CHROMA_RANGE_DB, nb.max(axis=1) > -F.CHROMA_RANGE_DB
    chroma_active = (active_a | active_b).astype(np.float64)
    cdiff = na - nb
    csq = (cdiff ** 2).mean(axis=1)
    cms, cw = _window_mean(csq, chroma_active, tol.cell_frames, axis=0)
    crms = np.sqrt(np.maximum(cms, 0.0))
    cvalid = cw >= (MIN_FRAMES["chroma"] - 0.5) / tol.cell_frames
    stats["chroma_rms_db_max"] = float(crms[cvalid].max()) if cvalid.any() else 0.0
    for start, stop in _runs(cvalid & (crms > tol.chroma_rms_db)):
        f0, f1 = _span((np.abs(cdiff) > 0).any(axis=1) & (chroma_active > 0), start, stop, tol.cell_frames // 2)
        # name the classes by their change of power relative to the strongest class (a dB
        # change of a nearly empty class says little)
        weights = chroma_active[f0:f1, None]
        power_change = ((10.0 ** (na[f0:f1] / 10.0) - 10.0 ** (nb[f0:f1] / 10.0)) * weights).sum(axis=0)
        mean_shift = ((na[f0:f1] - nb[f0:f1]) * weights).sum(axis=0) / max(float(weights.sum()), 1.0)
        gained, lost = int(np.argmax(power_change)), int(np.argmin(power_change))
        findings.append(Finding("pitch", *_seconds(f0, f1, hop_s), F.CHROMA_LOW_HZ, F.CHROMA_HIGH_HZ,
                                float(crms[start:stop].max()), "dB",
                                f"pitch classes: {PITCH_CLASSES[gained]} {mean_shift[gained]:+.1f} dB, "
                                f"{PITCH_CLASSES[lost]} {mean_shift[lost]:+.1f} dB (re the strongest class; "
                                f"chroma rms {crms[start:stop].max():.1f} dB)"))

    # -- stereo balance
    la, lb = a.balance[:n], b.balance[:n]
    bal_active = (np.maximum(ba, bb).reshape(n, F.N_BALANCE, -1).max(axis=2) > F.FLOOR_DB + 20.0).astype(float)
    bmean, bw = _window_mean(la - lb, bal_active, tol.cell_frames, axis=0)
    bvalid = bw >= (MIN_FRAMES["balance"] - 0.5) / tol.cell_frames
    stats["balance_db_max"] = float(np.abs(bmean[bvalid]).max()) if bvalid.any() else 0.0
    bflag = bvalid & (np.abs(bmean) > tol.balance_db)
    quarter = F.N_BANDS // F.N_BALANCE
    for start, stop in _runs(bflag.any(axis=1)):
        cols = np.nonzero(bflag[start:stop].any(axis=0))[0]
        value = float(bmean[start:stop][:, cols][np.unravel_index(
            np.abs(bmean[start:stop][:, cols]).argmax(), (stop - start, cols.size))])
        f_lo, f_hi = edges[int(cols.min()) * quarter], edges[(int(cols.max()) + 1) * quarter]
        findings.append(Finding("stereo", *_seconds(start, stop, hop_s), float(f_lo), float(f_hi), value, "dB",
                                f"left/right balance {value:+.1f} dB ({_hz(f_lo)}-{_hz(f_hi)})"))

    # -- timing and tuning inside band groups loud in both (the mask of the stored values)
    both = (F.centroid_mask(a.bands[:n]) & F.centroid_mask(b.bands[:n])).astype(float)
    for kind, va, vb, limit, unit in (("timing", a.timing[:n], b.timing[:n], tol.timing_ms, "ms"),
                                      ("tuning", a.pitch[:n], b.pitch[:n], tol.pitch_semitones, "semitones")):
        d = (va - vb) * both
        msq, w = _window_mean(d ** 2, both, tol.cell_frames, axis=0)
        r = np.sqrt(np.maximum(msq, 0.0))
        ok = w >= (MIN_FRAMES[kind] - 0.5) / tol.cell_frames
        stats[f"{kind}_rms_max"] = float(r[ok].max()) if ok.any() else 0.0
        flag = ok & (r > limit)
        for start, stop in _runs(flag.any(axis=1)):
            cols = np.nonzero(flag[start:stop].any(axis=0))[0]
            f0, f1 = _span((np.abs(d[:, cols]) > 0).any(axis=1), start, stop, tol.cell_frames // 2)
            block = d[f0:f1][:, cols]
            k = np.unravel_index(np.abs(block).argmax(), block.shape)
            value = float(block[k])
            w_ = F.CENTROID_WIDTH
            lo_hz, hi_hz = float(edges[w_ * cols.min()]), float(edges[w_ * (cols.max() + 1)])
            if kind == "timing":
                text = (f"{_hz(lo_hz)}-{_hz(hi_hz)}: time centroid moved up to {value:+.0f} ms "
                        f"(rms {r[start:stop].max():.1f} ms): something starts or stops at another time")
            else:
                text = (f"{_hz(lo_hz)}-{_hz(hi_hz)}: pitch centroid moved up to {value * 100:+.0f} cents "
                        f"(rms {r[start:stop].max() * 100:.0f} cents): a pitch changed, or the balance of pitches")
            findings.append(Finding(kind, *_seconds(f0, f1, hop_s), lo_hz, hi_hz,
                                    value * (100.0 if kind == "tuning" else 1.0),
                                    "cents" if kind == "tuning" else "ms", text))

    # -- onsets
    onset_findings, onset_stats = _compare_onsets(a.onsets, b.onsets, tol, horizon_s=n * hop_s)
    findings.extend(onset_findings)
    stats.update(onset_stats)
    drift = onset_stats.get("onset_drift_percent")
    if drift is not None and abs(drift) >= 0.2 and any(f.kind == "onset-moved" for f in findings):
        notes.append(f"matched onsets drift linearly by {onset_stats['onset_drift_percent']:+.2f} % of their "
                     f"time (a tempo {'slower' if onset_stats['onset_drift_percent'] > 0 else 'faster'} in a?)")

    for f in findings:
        f.where = grid.span(f.start_s, f.end_s) if f.end_s - f.start_s > 0.01 else grid.label(f.start_s)
    findings.sort(key=lambda f: (f.start_s, f.kind))
    similarity = _similarity(stats)
    sha_a, sha_b = a.source.get("audio_sha256"), b.source.get("audio_sha256")
    sha_equal = None if not (sha_a and sha_b) else sha_a == sha_b
    return Comparison(same=not findings, similarity=similarity, findings=findings, stats=stats,
                      a_name=a_name, b_name=b_name, audio_sha256_equal=sha_equal, notes=notes)


def _compare_onsets(a: F.Onsets, b: F.Onsets, tol: Tolerances, *, horizon_s: float
                    ) -> tuple[list[Finding], dict[str, float]]:
    findings: list[Finding] = []
    matched_a = np.full(len(a), -1)
    matched_b = np.full(len(b), -1)
    pairs = []
    for g in range(len(F.ONSET_GROUPS_HZ)):
        ia, ib = np.nonzero(a.groups == g)[0], np.nonzero(b.groups == g)[0]
        ta, tb = a.times_s[ia], b.times_s[ib]
        cand = []
        for k, t in enumerate(ta):
            lo, hi = np.searchsorted(tb, t - tol.onset_match_s), np.searchsorted(tb, t + tol.onset_match_s, "right")
            cand.extend((abs(tb[j] - t), ia[k], ib[j]) for j in range(lo, hi))
        cand.sort()
        for _, i, j in cand:
            if matched_a[i] < 0 and matched_b[j] < 0:
                matched_a[i], matched_b[j] = j, i
                pairs.append((i, j))
    strong = F.ONSET_THRESHOLD_DB + tol.onset_margin_db
    dt_all = np.array([a.times_s[i] - b.times_s[j] for i, j in pairs]) if pairs else np.zeros(0)
    t_all = np.array([b.times_s[j] for i, j in pairs]) if pairs else np.zeros(0)
    strong_shift_ms = 0.0
    for (i, j), dt in zip(pairs, dt_all):
        if max(a.strengths_db[i], b.strengths_db[j]) >= strong:
            strong_shift_ms = max(strong_shift_ms, abs(dt) * 1000.0)
        if abs(dt) * 1000.0 > tol.onset_ms and max(a.strengths_db[i], b.strengths_db[j]) >= strong:
            lo, hi = F.ONSET_GROUPS_HZ[int(a.groups[i])]
            findings.append(Finding("onset-moved", float(b.times_s[j]), float(b.times_s[j]), lo, hi, dt * 1000.0,
                                    "ms", f"onset {_hz(lo)}-{_hz(hi)} moved {dt * 1000:+.1f} ms"))
    for who, on, matched in (("a", a, matched_a), ("b", b, matched_b)):
        for i in np.nonzero((matched < 0) & (on.strengths_db >= strong) & (on.times_s < horizon_s))[0]:
            lo, hi = F.ONSET_GROUPS_HZ[int(on.groups[i])]
            kind = "onset-extra" if who == "a" else "onset-missing"
            text = "only in a" if who == "a" else "missing in a"
            findings.append(Finding(kind, float(on.times_s[i]), float(on.times_s[i]), lo, hi,
                                    float(on.strengths_db[i]), "dB",
                                    f"onset {_hz(lo)}-{_hz(hi)} {text} (strength {on.strengths_db[i]:.1f} dB)"))
    stats: dict[str, float] = {
        "onsets_a": float(len(a)), "onsets_b": float(len(b)), "onsets_matched": float(len(pairs)),
        "onset_shift_ms_max": float(np.abs(dt_all).max() * 1000.0) if dt_all.size else 0.0,
        # the decision statistic: the largest shift of a pair with a strong onset
        "onset_moved_ms_max": float(strong_shift_ms),
    }
    unmatched = int((matched_a < 0).sum() + (matched_b < 0).sum())
    stats["onsets_unmatched"] = float(unmatched)
    if dt_all.size >= 8 and np.ptp(t_all) > 1.0:
        slope = float(np.polyfit(t_all, dt_all, 1)[0])
        stats["onset_drift_percent"] = slope * 100.0
    return findings, stats


def _similarity(stats: dict[str, float]) -> float:
    """``exp(-d)``, ``d`` = root sum of squares of normalized distances (docs/fingerprints.md).

    Each of these counts as a distance of 1: 4 dB RMS difference over all sounding band
    values, 12 dB chroma RMS (worst cell), 12 dB balance (worst cell), a 30 % share of unpaired
    onsets, 1 s of length difference. Identical features give 1.0.
    """
    total = stats.get("onsets_a", 0.0) + stats.get("onsets_b", 0.0)
    onset_share = stats.get("onsets_unmatched", 0.0) / total if total else 0.0
    d = np.sqrt((stats.get("bands_rms_db", 0.0) / 4.0) ** 2
                + (stats.get("chroma_rms_db_max", 0.0) / 12.0) ** 2
                + (stats.get("balance_db_max", 0.0) / 12.0) ** 2
                + (onset_share / 0.3) ** 2
                + (stats.get("length_diff_s", 0.0) / 1.0) ** 2)
    return float(np.exp(-d))
