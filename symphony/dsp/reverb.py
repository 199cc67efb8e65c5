"""Feedback-delay-network reverb with scene presets ("spaces").

Structure (Jot & Chaigne 1991; Schlecht & Habets 2017 for the orthogonal feedback matrix)::

    in (2) -> predelay -> 4 series Schroeder allpasses per channel (input diffusion)
           -> injected into 16 delay lines (L -> even lines, R -> odd lines, alternating signs)
    line i: s_i = delay_i(v_i); f_i = A_i(z) s_i        (absorbent filter, below)
            v = H f + b u                                  (H = 16x16 Hadamard / 4, orthogonal)
    out L/R = two orthogonal +-1 patterns of f / 4 (decorrelated), M/S width, early reflections.

Decay: each line's absorbent filter is ``A_i(z) = k_i * S_low(z) * S_high(z)``, two
first-order shelves (bilinear transform of ``(s + A w)/(s + w)`` and ``(B s + w)/(s + w)``)
whose corners are 250 Hz and ``damping_hz``. ``k_i`` and the shelf gains are solved
together (a short fixed-point iteration) so that the loop gain of line i is exactly
``10^(-3 d_i / (fs T))`` (Jot's condition) with ``T = decay_s`` at **1 kHz**,
``T = bass_ratio * decay_s`` at DC and ``T = hf_ratio * decay_s`` at Nyquist:
``decay_s`` is the RT60 at 1 kHz. Because H is orthogonal (lossless), the network is stable whenever every
``|A_i| < 1``; the constructor checks that on a frequency grid.

Early reflections: 8 taps per channel read from the predelay line within ``40 ms * size``;
``er_regularity`` moves the taps from random to evenly spaced (a comb: the "metallic" ring
of a factory hall).
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Mapping

import numba
import numpy as np

from symphony.dsp.base import DENORMAL_FLOOR, Processor, check_sample_rate
from symphony.errors import ParameterError
from symphony.params import Param

N_LINES = 16
_N_AP = 4
_N_ER = 8
_BASS_HZ = 250.0
_AP_MS = np.array([4.771, 3.595, 12.73, 9.307])  # input diffusers, ms at size 1 (Schroeder-style)
_AP_R_SCALE = 1.0731  # the right channel's diffusers are a little longer (decorrelation)
_MAX_SIZE = 3.0
_MAX_PREDELAY_MS = 250.0
_ER_MS = 40.0

_SPACE_NAMES = ("catacomb", "cathedral", "factory_hall", "laboratory", "nightclub", "room", "plate")

PARAMS: tuple[Param, ...] = (
    Param("space", "room", doc="scene preset; other parameters override it", choices=_SPACE_NAMES),
    Param("decay_s", 0.6, 0.1, 20.0, doc="RT60 at 1 kHz, s"),
    Param("predelay_ms", 5.0, 0.0, _MAX_PREDELAY_MS, doc="delay before the reverb, ms"),
    Param("damping_hz", 6000.0, 500.0, 20000.0, doc="corner above which the decay shortens, Hz"),
    Param("hf_ratio", 0.6, 0.05, 1.0, doc="RT60 above damping_hz / RT60 at 1 kHz"),
    Param("bass_ratio", 1.0, 0.5, 2.0, doc="RT60 below 250 Hz / RT60 at 1 kHz"),
    Param("size", 1.0, 0.3, _MAX_SIZE, doc="scales delay-line lengths (room dimensions)"),
    Param("width", 1.0, 0.0, 1.0, doc="stereo width of the tail (0 = mono)"),
    Param("diffusion", 0.7, 0.0, 0.85, doc="input allpass coefficient (echo density)"),
    Param("er_level", 0.4, 0.0, 1.0, doc="early reflection level"),
    Param("er_regularity", 0.3, 0.0, 1.0, doc="0 = scattered reflections, 1 = evenly spaced (metallic)"),
    Param("level_db", 0.0, -40.0, 12.0, doc="wet output level, dB"),
)

REVERB_SPACES: Mapping[str, Mapping[str, float]] = MappingProxyType({
    # very long, dark tail with strong low-mids: stone tunnels
    "catacomb": MappingProxyType(dict(decay_s=7.0, predelay_ms=35.0, damping_hz=1500.0, hf_ratio=0.3,
                                      bass_ratio=1.35, size=2.2, width=0.8, diffusion=0.75,
                                      er_level=0.3, er_regularity=0.2, level_db=-3.0)),
    # long, bright-ish, large predelay
    "cathedral": MappingProxyType(dict(decay_s=5.0, predelay_ms=90.0, damping_hz=5000.0, hf_ratio=0.6,
                                       bass_ratio=1.15, size=2.8, width=1.0, diffusion=0.7,
                                       er_level=0.25, er_regularity=0.1, level_db=-2.0)),
    # metallic (regular) early reflections, medium tail, low diffusion
    "factory_hall": MappingProxyType(dict(decay_s=3.0, predelay_ms=20.0, damping_hz=8000.0, hf_ratio=0.75,
                                          bass_ratio=0.9, size=1.8, width=0.9, diffusion=0.4,
                                          er_level=0.8, er_regularity=0.95, level_db=-1.0)),
    # small hard room
    "laboratory": MappingProxyType(dict(decay_s=0.9, predelay_ms=6.0, damping_hz=9000.0, hf_ratio=0.8,
                                        bass_ratio=0.9, size=0.6, width=0.7, diffusion=0.6,
                                        er_level=0.6, er_regularity=0.6, level_db=0.0)),
    # short, dense, a bit boomy
    "nightclub": MappingProxyType(dict(decay_s=1.2, predelay_ms=10.0, damping_hz=3500.0, hf_ratio=0.5,
                                       bass_ratio=1.25, size=0.8, width=1.0, diffusion=0.8,
                                       er_level=0.4, er_regularity=0.3, level_db=0.0)),
    "room": MappingProxyType(dict(decay_s=0.6, predelay_ms=5.0, damping_hz=6000.0, hf_ratio=0.6,
                                  bass_ratio=1.0, size=0.5, width=0.7, diffusion=0.7,
                                  er_level=0.5, er_regularity=0.3, level_db=0.0)),
    # bright, dense plate: no early reflections, maximum diffusion
    "plate": MappingProxyType(dict(decay_s=2.5, predelay_ms=8.0, damping_hz=12000.0, hf_ratio=0.85,
                                   bass_ratio=0.85, size=1.0, width=1.0, diffusion=0.85,
                                   er_level=0.0, er_regularity=0.0, level_db=-1.0)),
})


def _is_prime(k: int) -> bool:
    if k < 2:
        return False
    for p in range(2, int(k ** 0.5) + 1):
        if k % p == 0:
            return False
    return True


def _distinct_primes(targets: np.ndarray) -> np.ndarray:
    """Nearest distinct primes at or above each target (mutually prime delay lengths)."""
    used: set[int] = set()
    out = []
    for t in targets:
        k = max(2, int(round(t)))
        while not _is_prime(k) or k in used:
            k += 1
        used.add(k)
        out.append(k)
    return np.array(out, dtype=np.int64)


def _hadamard(n: int) -> np.ndarray:
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def _shelf_coefs(fc: float, fs: float, dc_gain: float, nyq_gain: float) -> np.ndarray:
    """First-order shelf ``(nyq s + dc w)/(s + w)`` by the bilinear transform: [b0, b1, a1]."""
    k = math.tan(math.pi * min(fc, 0.49 * fs) / fs)
    a0 = 1.0 / k + 1.0
    b0 = (nyq_gain / k + dc_gain) / a0
    b1 = (dc_gain - nyq_gain / k) / a0
    a1 = (1.0 - 1.0 / k) / a0
    return np.array([b0, b1, a1])


def _shelf_response(c: np.ndarray, w: np.ndarray) -> np.ndarray:
    z1 = np.exp(-1j * w)
    return (c[0] + c[1] * z1) / (1.0 + c[2] * z1)


#: Longest run of frames the network is advanced by at once (bounded by the shortest line).
_CHUNK = 256


@numba.njit(cache=True)
def _ring_read(row, start, m, dst):  # pragma: no cover - compiled
    """``dst[t] = row[(start + t) & (size - 1)]`` for ``t < m`` (two contiguous copies)."""
    size = row.shape[0]
    r = start & (size - 1)
    first = min(m, size - r)
    src = row[r:r + first]
    for t in range(first):
        dst[t] = src[t]
    src = row[0:m - first]
    for t in range(m - first):
        dst[first + t] = src[t]


@numba.njit(cache=True)
def _ring_write(row, start, m, src):  # pragma: no cover - compiled
    """``row[(start + t) & (size - 1)] = src[t]`` for ``t < m``."""
    size = row.shape[0]
    r = start & (size - 1)
    first = min(m, size - r)
    dst = row[r:r + first]
    for t in range(first):
        dst[t] = src[t]
    dst = row[0:m - first]
    for t in range(m - first):
        dst[t] = src[first + t]


@numba.njit(cache=True)
def _shelves(s_run, f_run, g, m, b0, b1, a1, c0, c1, e1, gains, fstate):  # pragma: no cover
    """Lines ``g .. g+3`` through their two first-order shelves and loop gains, over ``m`` frames.

    ``y1 = b0 s + b1 s[-1] - a1 y1[-1]``, ``y2 = c0 y1 + c1 y1[-1] - e1 y2[-1]``,
    ``f = gain y2`` (values below 1e-30 flushed to 0). Four independent recursions side by
    side in scalars, so the processor overlaps their latencies.
    """
    i0, i1, i2, i3 = g, g + 1, g + 2, g + 3
    x1_0, y1_0, x2_0, y2_0 = fstate[i0, 0], fstate[i0, 1], fstate[i0, 2], fstate[i0, 3]
    x1_1, y1_1, x2_1, y2_1 = fstate[i1, 0], fstate[i1, 1], fstate[i1, 2], fstate[i1, 3]
    x1_2, y1_2, x2_2, y2_2 = fstate[i2, 0], fstate[i2, 1], fstate[i2, 2], fstate[i2, 3]
    x1_3, y1_3, x2_3, y2_3 = fstate[i3, 0], fstate[i3, 1], fstate[i3, 2], fstate[i3, 3]
    s0, s1, s2, s3 = s_run[i0], s_run[i1], s_run[i2], s_run[i3]
    f0, f1, f2, f3 = f_run[i0], f_run[i1], f_run[i2], f_run[i3]
    # coefficients in scalars: no array loads inside the loop
    p0_0, p1_0, q1_0, r0_0, r1_0, w1_0, k_0 = b0[i0], b1[i0], a1[i0], c0[i0], c1[i0], e1[i0], gains[i0]
    p0_1, p1_1, q1_1, r0_1, r1_1, w1_1, k_1 = b0[i1], b1[i1], a1[i1], c0[i1], c1[i1], e1[i1], gains[i1]
    p0_2, p1_2, q1_2, r0_2, r1_2, w1_2, k_2 = b0[i2], b1[i2], a1[i2], c0[i2], c1[i2], e1[i2], gains[i2]
    p0_3, p1_3, q1_3, r0_3, r1_3, w1_3, k_3 = b0[i3], b1[i3], a1[i3], c0[i3], c1[i3], e1[i3], gains[i3]
    for t in range(m):
        v0 = s0[t]
        v1 = s1[t]
        v2 = s2[t]
        v3 = s3[t]
        y1_0 = p0_0 * v0 + p1_0 * x1_0 - q1_0 * y1_0
        y1_1 = p0_1 * v1 + p1_1 * x1_1 - q1_1 * y1_1
        y1_2 = p0_2 * v2 + p1_2 * x1_2 - q1_2 * y1_2
        y1_3 = p0_3 * v3 + p1_3 * x1_3 - q1_3 * y1_3
        x1_0 = v0
        x1_1 = v1
        x1_2 = v2
        x1_3 = v3
        y1_0 = 0.0 if abs(y1_0) < DENORMAL_FLOOR else y1_0
        y1_1 = 0.0 if abs(y1_1) < DENORMAL_FLOOR else y1_1
        y1_2 = 0.0 if abs(y1_2) < DENORMAL_FLOOR else y1_2
        y1_3 = 0.0 if abs(y1_3) < DENORMAL_FLOOR else y1_3
        y2_0 = r0_0 * y1_0 + r1_0 * x2_0 - w1_0 * y2_0
        y2_1 = r0_1 * y1_1 + r1_1 * x2_1 - w1_1 * y2_1
        y2_2 = r0_2 * y1_2 + r1_2 * x2_2 - w1_2 * y2_2
        y2_3 = r0_3 * y1_3 + r1_3 * x2_3 - w1_3 * y2_3
        x2_0 = y1_0
        x2_1 = y1_1
        x2_2 = y1_2
        x2_3 = y1_3
        y2_0 = 0.0 if abs(y2_0) < DENORMAL_FLOOR else y2_0
        y2_1 = 0.0 if abs(y2_1) < DENORMAL_FLOOR else y2_1
        y2_2 = 0.0 if abs(y2_2) < DENORMAL_FLOOR else y2_2
        y2_3 = 0.0 if abs(y2_3) < DENORMAL_FLOOR else y2_3
        f0[t] = k_0 * y2_0
        f1[t] = k_1 * y2_1
        f2[t] = k_2 * y2_2
        f3[t] = k_3 * y2_3
    fstate[i0, 0], fstate[i0, 1], fstate[i0, 2], fstate[i0, 3] = x1_0, y1_0, x2_0, y2_0
    fstate[i1, 0], fstate[i1, 1], fstate[i1, 2], fstate[i1, 3] = x1_1, y1_1, x2_1, y2_1
    fstate[i2, 0], fstate[i2, 1], fstate[i2, 2], fstate[i2, 3] = x1_2, y1_2, x2_2, y2_2
    fstate[i3, 0], fstate[i3, 1], fstate[i3, 2], fstate[i3, 3] = x1_3, y1_3, x2_3, y2_3


@numba.njit(cache=True)
def _fdn_kernel(x, out, delays, filt, gains, inj, out_l, out_r, ap_len, ap_g, er_idx, er_gain,
                pre_len, width, pre_buf, ap_buf, line_buf, fstate, pos):  # pragma: no cover
    """Whole reverb (see module docstring); all state arrays updated in place.

    ``pos`` = [predelay write pos, allpass pos (per ap, per channel flattened), fdn pos].

    The network advances in runs of ``L`` frames, ``L`` at most the shortest delay line
    and the shortest allpass: every value a run reads from a line or an allpass was written
    before the run started, so each stage (predelay and early reflections, each allpass,
    the 16 absorbent filters four at a time, the outputs, the Hadamard mix, the write-back)
    runs over the whole run, vectorized over its frames. Every frame gets exactly the
    arithmetic of the plain per-frame loop (same operations, same order), so the output
    depends neither on ``L`` nor on the block split; ``test_kernel_matches_slow_reference``
    checks it against a per-sample model. The rings are at least ``L`` longer than the
    longest delay read from them, so writing a run before reading it clobbers nothing.
    """
    n_lines = delays.shape[0]
    n_ap = ap_len.shape[1]
    n_er = er_idx.shape[1]
    n = x.shape[1]
    pmask = pre_buf.shape[1] - 1
    amask = ap_buf.shape[2] - 1
    lmask = line_buf.shape[1] - 1
    chunk = _CHUNK
    for i in range(n_lines):
        chunk = min(chunk, delays[i])
    for c in range(2):
        for k in range(n_ap):
            chunk = min(chunk, ap_len[c, k])
    u_run = np.empty((2, chunk))
    er_run = np.empty((2, chunk))
    tap = np.empty(chunk)
    s_run = np.empty((n_lines, chunk))
    f_run = np.empty((n_lines, chunk))
    yl_run = np.empty(chunk)
    yr_run = np.empty(chunk)
    b0 = filt[:, 0].copy()
    b1 = filt[:, 1].copy()
    a1 = filt[:, 2].copy()
    c0 = filt[:, 3].copy()
    c1 = filt[:, 4].copy()
    e1 = filt[:, 5].copy()
    norm = 1.0 / math.sqrt(n_lines)
    p_pos = pos[0]
    a_pos = pos[1]
    l_pos = pos[2]
    for t0 in range(0, n, chunk):
        m = min(chunk, n - t0)
        for c in range(2):
            # predelay ring (written first: its lags may be shorter than the run)
            _ring_write(pre_buf[c], p_pos, m, x[c, t0:t0 + m])
            er = er_run[c]
            for t in range(m):
                er[t] = 0.0
            for k in range(n_er):
                gk = er_gain[c, k]
                _ring_read(pre_buf[c], p_pos - er_idx[c, k], m, tap)
                for t in range(m):
                    er[t] += gk * tap[t]
            u = u_run[c]
            _ring_read(pre_buf[c], p_pos - pre_len, m, u)
            # input diffusion: Schroeder allpasses y = -g w + d, d = buf[n - M], buf[n] = w + g d
            for k in range(n_ap):
                _ring_read(ap_buf[c, k], a_pos - ap_len[c, k], m, tap)
                for t in range(m):
                    d = tap[t]
                    wv = u[t] + ap_g * d
                    wv = 0.0 if abs(wv) < DENORMAL_FLOOR else wv
                    u[t] = d - ap_g * wv
                    tap[t] = wv
                _ring_write(ap_buf[c, k], a_pos, m, tap)
        p_pos = (p_pos + m) & pmask
        a_pos = (a_pos + m) & amask
        # delay lines (written at least L frames ago) -> absorbent filters
        for i in range(n_lines):
            _ring_read(line_buf[i], l_pos - delays[i], m, s_run[i])
        for g in range(0, n_lines, 4):
            _shelves(s_run, f_run, g, m, b0, b1, a1, c0, c1, e1, gains, fstate)
        # outputs (sum over the lines in line order)
        for t in range(m):
            yl_run[t] = 0.0
            yr_run[t] = 0.0
        for i in range(n_lines):
            gl = out_l[i]
            gr = out_r[i]
            fi = f_run[i]
            for t in range(m):
                yl_run[t] += gl * fi[t]
                yr_run[t] += gr * fi[t]
        # orthogonal feedback: fast Walsh-Hadamard transform, normalised
        h = 1
        while h < n_lines:
            for i in range(0, n_lines, 2 * h):
                for j in range(i, i + h):
                    va = f_run[j]
                    vb = f_run[j + h]
                    for t in range(m):
                        a = va[t]
                        b = vb[t]
                        va[t] = a + b
                        vb[t] = a - b
            h *= 2
        for i in range(n_lines):
            g0 = inj[0, i]
            g1 = inj[1, i]
            fi = f_run[i]
            for t in range(m):
                fi[t] = fi[t] * norm + g0 * u_run[0, t] + g1 * u_run[1, t]
            _ring_write(line_buf[i], l_pos, m, fi)
        l_pos = (l_pos + m) & lmask
        for t in range(m):
            mid = 0.5 * (yl_run[t] + yr_run[t])
            side = 0.5 * (yl_run[t] - yr_run[t]) * width
            out[0, t0 + t] = mid + side + er_run[0, t]
            out[1, t0 + t] = mid - side + er_run[1, t]
    pos[0] = p_pos
    pos[1] = a_pos
    pos[2] = l_pos


def _pow2_at_least(k: int) -> int:
    return 1 << int(math.ceil(math.log2(max(2, k))))


class Reverb(Processor):
    """Stereo 16-line FDN reverb; RT60 at 1 kHz = ``decay_s``; 100 % wet (a bus return).

    Parameters
    ----------
    sample_rate : int
    space : str
        One of :data:`REVERB_SPACES`; its values are the defaults of the other parameters.
    **overrides
        Any parameter of :data:`PARAMS` (control-rate floats); see ``Reverb.PARAMS`` for
        ranges and units. ``set()`` accepts the same names; changing ``size`` clears the tail.

    ``process(x)``: ``(2, n) -> (2, n)``.
    """

    PARAMS = PARAMS

    def __init__(self, sample_rate: int, *, space: str = "room", **overrides: float) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        fs = self.sample_rate
        self._params: dict[str, float | str] = {}
        # longest lag read from the predelay ring: predelay + the last early reflection
        # (up to 1.07 * 40 ms * size on the right channel); every ring also holds one run
        # (``_CHUNK``) beyond its longest lag, because the kernel writes a run before reading it
        max_pre = int(math.ceil((_MAX_PREDELAY_MS + 1.08 * _ER_MS * _MAX_SIZE) * 1e-3 * fs)) + 2
        self._pre_size = _pow2_at_least(max_pre + 1 + _CHUNK)
        self._ap_size = _pow2_at_least(int(_AP_MS.max() * _AP_R_SCALE * math.sqrt(_MAX_SIZE) * 1e-3 * fs)
                                       + 2 + _CHUNK)
        self._line_size = _pow2_at_least(int(self._line_ms(_MAX_SIZE).max() * 1e-3 * fs) + 40 + _CHUNK)
        self.set(space=space, **overrides)
        self.reset()

    @staticmethod
    def _line_ms(size: float) -> np.ndarray:
        # geometric spread 13..47 ms at size 1 (ratio ~3.6 keeps modes dense and echoes hidden)
        return 13.0 * (47.0 / 13.0) ** (np.arange(N_LINES) / (N_LINES - 1)) * size

    def set(self, **params: float | str) -> None:
        """Validate and apply parameters; ``space=`` first loads that preset's values."""
        known = {p.name: p for p in PARAMS}
        new = dict(self._params)
        if "space" in params:
            try:
                space = known["space"].check(params["space"])
            except ValueError as exc:
                raise ParameterError(str(exc)) from None
            new.update(REVERB_SPACES[space])
            new["space"] = space
        for name, value in params.items():
            if name == "space":
                continue
            if name not in known:
                raise ParameterError(f"Reverb has no parameter {name!r}; known: {', '.join(known)}")
            try:
                new[name] = known[name].check(value)
            except ValueError as exc:
                raise ParameterError(str(exc)) from None
        size_changed = new.get("size") != self._params.get("size")
        self._params = new
        self._compute()
        if size_changed and hasattr(self, "_line_buf"):
            self.reset()

    def __getattr__(self, name: str):
        params = self.__dict__.get("_params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    def _compute(self) -> None:
        p = self._params
        fs = float(self.sample_rate)
        size = float(p["size"])
        self._delays = _distinct_primes(self._line_ms(size) * 1e-3 * fs)
        t60 = float(p["decay_s"])
        w1k = 2.0 * math.pi * 1000.0 / fs
        grid = np.linspace(0.0, math.pi, 512)
        filt = np.zeros((N_LINES, 6))
        gains = np.zeros(N_LINES)
        for i, d in enumerate(self._delays):
            g_mid = 10.0 ** (-3.0 * d / (fs * t60))
            g_low = 10.0 ** (-3.0 * d / (fs * t60 * float(p["bass_ratio"])))
            g_high = 10.0 ** (-3.0 * d / (fs * t60 * float(p["hf_ratio"])))
            # Fixed point: shelf gains relative to k so that |A_i| hits the targets at DC,
            # 1 kHz and Nyquist together (first-order shelves overlap, so k moves them).
            k = g_mid
            for _ in range(30):
                low = _shelf_coefs(_BASS_HZ, fs, g_low / k, 1.0)
                high = _shelf_coefs(float(p["damping_hz"]), fs, 1.0, g_high / k)
                h1k = abs(_shelf_response(low, w1k) * _shelf_response(high, w1k))
                k = g_mid / h1k  # Jot's condition exactly at 1 kHz
            low = _shelf_coefs(_BASS_HZ, fs, g_low / k, 1.0)
            high = _shelf_coefs(float(p["damping_hz"]), fs, 1.0, g_high / k)
            k = g_mid / abs(_shelf_response(low, w1k) * _shelf_response(high, w1k))
            peak = k * np.max(np.abs(_shelf_response(low, grid) * _shelf_response(high, grid)))
            if peak >= 0.9999:  # cannot happen within the parameter ranges; guard anyway
                k *= 0.9999 / peak
            filt[i, :3] = low
            filt[i, 3:] = high
            gains[i] = k
        self._filt = filt
        self._gains = gains
        # injection and output patterns: rows of a Hadamard matrix (mutually orthogonal)
        had = _hadamard(N_LINES)
        inj = np.zeros((2, N_LINES))
        inj[0, 0::2] = had[3, 0::2]
        inj[1, 1::2] = had[5, 1::2]
        self._inj = inj * (2.0 / math.sqrt(N_LINES))
        level = 10.0 ** (float(p["level_db"]) / 20.0)
        self._out_l = had[1] * (level / math.sqrt(N_LINES))
        self._out_r = had[2] * (level / math.sqrt(N_LINES))
        ap = np.zeros((2, _N_AP), dtype=np.int64)
        ap[0] = np.maximum(1, np.round(_AP_MS * math.sqrt(size) * 1e-3 * fs)).astype(np.int64)
        ap[1] = np.maximum(1, np.round(_AP_MS * _AP_R_SCALE * math.sqrt(size) * 1e-3 * fs)).astype(np.int64)
        self._ap_len = ap
        self._ap_g = float(p["diffusion"])
        self._pre_len = int(round(float(p["predelay_ms"]) * 1e-3 * fs))
        # early reflections: deterministic pattern per channel
        rng = np.random.default_rng(1234)
        reg = float(p["er_regularity"])
        span = _ER_MS * size * 1e-3 * fs
        er_idx = np.zeros((2, _N_ER), dtype=np.int64)
        er_gain = np.zeros((2, _N_ER))
        for c in range(2):
            even = (np.arange(_N_ER) + 1.0) / _N_ER
            rand = np.sort(rng.uniform(0.05, 1.0, _N_ER))
            frac = reg * even + (1.0 - reg) * rand
            if c == 1:
                frac = frac * (1.0 + 0.07 * (1.0 - reg))  # offset the right side
            er_idx[c] = self._pre_len + np.maximum(1, np.round(frac * span)).astype(np.int64)
            signs = np.where(rng.uniform(size=_N_ER) < 0.5, -1.0, 1.0)
            er_gain[c] = float(p["er_level"]) * level * signs * 0.5 * 0.8 ** np.arange(_N_ER)
        self._er_idx = er_idx
        self._er_gain = er_gain

    def reset(self) -> None:
        self._pre_buf = np.zeros((2, self._pre_size))
        self._ap_buf = np.zeros((2, _N_AP, self._ap_size))
        self._line_buf = np.zeros((N_LINES, self._line_size))
        self._fstate = np.zeros((N_LINES, 4))
        self._pos = np.zeros(3, dtype=np.int64)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Reverberate ``x`` ``(2, n)``; returns the wet signal ``(2, n)``."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != 2:
            raise ParameterError(f"Reverb expects a (2, n) block, got shape {x.shape}")
        out = np.empty_like(x)
        _fdn_kernel(np.ascontiguousarray(x), out, self._delays, self._filt, self._gains, self._inj,
                    self._out_l, self._out_r, self._ap_len, self._ap_g, self._er_idx, self._er_gain,
                    self._pre_len, float(self._params["width"]), self._pre_buf, self._ap_buf,
                    self._line_buf, self._fstate, self._pos)
        return out
