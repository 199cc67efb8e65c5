"""Bus effects a score may name: delay, chorus, saturation, bit crusher, parametric EQ, reverb.

Every class declares ``PARAMS`` (a tuple of :class:`symphony.params.Param`) and accepts
those names as keyword arguments; ``EFFECTS`` maps the score names to the classes. All
effects take and return ``(2, n)`` float64 blocks (stereo buses) unless stated otherwise;
parameters are control-rate floats applied from the next ``process`` call.

Formula sources: RBJ "Audio EQ Cookbook" (Bristow-Johnson) for the EQ biquads;
Parker, Zavalishin & Le Bivic, "Reducing the aliasing of nonlinear waveshaping using
continuous-time convolution" (DAFx 2016) for first-order antiderivative anti-aliasing
(ADAA); Dattorro, "Effect Design Part 2: Delay-Line Modulation and Chorus" (JAES 1997)
for the interpolated modulated delay lines.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Mapping, Sequence

import numba
import numpy as np

from symphony.dsp.base import DENORMAL_FLOOR, Processor, check_sample_rate
from symphony.dsp.filters import BIQUAD_KINDS, rbj_coefficients
from symphony.dsp.linear import firwin_kaiser, sos_cascade
from symphony.dsp.loudness import _TP_TAPS
from symphony.dsp.reverb import Reverb
from symphony.errors import ParameterError
from symphony.params import Param


class _ParamProcessor(Processor):
    """Shared ``set()``: validate keyword parameters against ``PARAMS``."""

    PARAMS: tuple[Param, ...] = ()

    def _init_params(self, sample_rate: int, params: dict) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self._values = {p.name: p.default for p in self.PARAMS}
        self.set(**params)

    def set(self, **params: float | str) -> None:
        """Validate and apply parameters (names and ranges in ``PARAMS``)."""
        known = {p.name: p for p in self.PARAMS}
        for name, value in params.items():
            if name not in known:
                raise ParameterError(f"{type(self).__name__} has no parameter {name!r}; "
                                     f"known: {', '.join(known)}")
            if isinstance(value, bool) and not known[name].choices:
                value = float(value)
            try:
                self._values[name] = known[name].check(value)
            except ValueError as exc:
                raise ParameterError(str(exc)) from None
        self._update()

    def _update(self) -> None:  # recompute coefficients
        pass

    def __getattr__(self, name: str):
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    @staticmethod
    def _check_stereo(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != 2:
            raise ParameterError(f"expected a (2, n) block, got shape {x.shape}")
        return np.ascontiguousarray(x)


def _pow2_at_least(k: int) -> int:
    return 1 << int(math.ceil(math.log2(max(2, k))))


# ----------------------------------------------------------------------------- delay
@numba.njit(cache=True)
def _delay_kernel(x, out, buf, pos, cur, target, glide, feedback, ping_pong, lp_a, lp_state):  # pragma: no cover
    """Stereo feedback delay with a fractional (linear-interpolated) read and a one-pole
    low-pass in the loop. Ping-pong: the input enters the left line only (mono sum) and
    each line feeds the other, so echoes alternate L, R, L, ... The delay glides to a new
    ``target`` (frames) as ``cur += (1 - glide) (target - cur)`` per frame (tape-style, no
    click when the tempo changes); ``cur[0]`` is carried state.
    """
    mask = buf.shape[1] - 1
    p = pos[0]
    delay = cur[0]
    w = np.empty(2)
    for t in range(x.shape[1]):
        if delay != target:
            delay += (1.0 - glide) * (target - delay)
            if abs(target - delay) < 1e-9:
                delay = target
        di = int(math.floor(delay))
        fr = delay - di
        for c in range(2):
            a = buf[c, (p - di) & mask]
            b = buf[c, (p - di - 1) & mask]
            d = a + fr * (b - a)
            # one-pole low-pass y = (1 - a) x + a y1  (damping of each repeat)
            y = (1.0 - lp_a) * d + lp_a * lp_state[c]
            if abs(y) < DENORMAL_FLOOR:
                y = 0.0
            lp_state[c] = y
            out[c, t] = y
        if ping_pong:
            w[0] = 0.5 * (x[0, t] + x[1, t]) + feedback * out[1, t]
            w[1] = feedback * out[0, t]
        else:
            w[0] = x[0, t] + feedback * out[0, t]
            w[1] = x[1, t] + feedback * out[1, t]
        buf[0, p] = w[0]
        buf[1, p] = w[1]
        p = (p + 1) & mask
    pos[0] = p
    cur[0] = delay


class StereoDelay(_ParamProcessor):
    """Feedback echo: an impulse returns after ``time_ms`` with gain ``feedback**(k-1)`` on repeat k (wet only).

    Parameters (``PARAMS``): ``time_ms`` (the orchestra converts beats at the current tempo),
    ``feedback`` in [0, 0.95], ``ping_pong`` (0 or 1), ``damping_hz`` (one-pole low-pass
    in the loop; 20000 = off), ``level_db``, ``glide_ms`` (a new ``time_ms`` is reached
    exponentially with this time constant, like a tape delay, so tempo changes do not click).
    """

    PARAMS = (
        Param("time_ms", 375.0, 1.0, 4000.0, doc="echo time, ms"),
        Param("feedback", 0.35, 0.0, 0.95, doc="gain of each repeat"),
        Param("ping_pong", 0.0, 0.0, 1.0, doc="1 = echoes alternate left/right"),
        Param("damping_hz", 20000.0, 200.0, 20000.0, doc="low-pass in the loop (20000 = off), Hz"),
        Param("level_db", 0.0, -40.0, 12.0, doc="wet level, dB"),
        Param("glide_ms", 50.0, 1.0, 2000.0, doc="time constant of delay-time changes, ms"),
    )

    def __init__(self, sample_rate: int, **params: float) -> None:
        self._init_params(sample_rate, params)
        self._buf_size = _pow2_at_least(int(4000.0e-3 * self.sample_rate) + 4)
        self.reset()

    def _update(self) -> None:
        fs = self.sample_rate
        self._delay = max(1.0, self._values["time_ms"] * 1e-3 * fs)
        self._glide = math.exp(-1.0 / (self._values["glide_ms"] * 1e-3 * fs))
        f = self._values["damping_hz"]
        self._lp_a = 0.0 if f >= 0.45 * fs or f >= 20000.0 else math.exp(-2.0 * math.pi * f / fs)
        self._level = 10.0 ** (self._values["level_db"] / 20.0)

    def reset(self) -> None:
        self._buf = np.zeros((2, self._buf_size))
        self._pos = np.zeros(1, dtype=np.int64)
        self._lp = np.zeros(2)
        self._cur = np.array([self._delay])  # current (gliding) delay, frames

    def process(self, x: np.ndarray) -> np.ndarray:
        """``(2, n) -> (2, n)`` wet echoes."""
        x = self._check_stereo(x)
        out = np.empty_like(x)
        _delay_kernel(x, out, self._buf, self._pos, self._cur, self._delay, self._glide, self._values["feedback"],
                      self._values["ping_pong"] >= 0.5, self._lp_a, self._lp)
        return out * self._level if self._level != 1.0 else out


# ----------------------------------------------------------------------------- chorus
@numba.njit(cache=True)
def _chorus_kernel(x, out, buf, pos, phase, base, depth, dphase, n_taps, mix):  # pragma: no cover
    """Ensemble chorus: per channel ``n_taps`` reads at ``base + depth * sin(phase_k)``
    samples, phases spread over the circle (Dattorro 1997); linear interpolation."""
    mask = buf.shape[1] - 1
    p = pos[0]
    for t in range(x.shape[1]):
        buf[0, p] = x[0, t]
        buf[1, p] = x[1, t]
        for c in range(2):
            wet = 0.0
            for k in range(n_taps):
                ph = phase[0] + (c * 0.5 + k) / n_taps * 2.0 * math.pi + c * 0.25 * math.pi
                d = base + depth * math.sin(ph)
                di = int(math.floor(d))
                fr = d - di
                a = buf[c, (p - di) & mask]
                b = buf[c, (p - di - 1) & mask]
                wet += a + fr * (b - a)
            out[c, t] = (1.0 - mix) * x[c, t] + mix * wet / n_taps
        p = (p + 1) & mask
        phase[0] += dphase
        if phase[0] >= 2.0 * math.pi:
            phase[0] -= 2.0 * math.pi
    pos[0] = p


class Chorus(_ParamProcessor):
    """Ensemble chorus: 3 delay taps per channel swept sinusoidally over ``delay_ms +- depth_ms``.

    Parameters (``PARAMS``): ``rate_hz``, ``depth_ms``, ``delay_ms`` (centre), ``taps`` (2 or 3),
    ``mix`` (0 = dry, 1 = wet only).
    """

    PARAMS = (
        Param("rate_hz", 0.6, 0.01, 10.0, doc="sweep rate, Hz"),
        Param("depth_ms", 2.0, 0.0, 10.0, doc="sweep depth (+-), ms"),
        Param("delay_ms", 12.0, 1.0, 40.0, doc="centre delay, ms"),
        Param("taps", 3.0, 2.0, 3.0, doc="delay taps per channel"),
        Param("mix", 0.5, 0.0, 1.0, doc="wet share"),
    )

    def __init__(self, sample_rate: int, **params: float) -> None:
        self._init_params(sample_rate, params)
        self._buf_size = _pow2_at_least(int(50e-3 * self.sample_rate) + 4)
        self.reset()

    def _update(self) -> None:
        v = self._values
        if v["depth_ms"] >= v["delay_ms"]:
            raise ParameterError(f"depth_ms must be below delay_ms ({v['delay_ms']}), got {v['depth_ms']!r}")
        fs = self.sample_rate
        self._base = v["delay_ms"] * 1e-3 * fs
        self._depth = v["depth_ms"] * 1e-3 * fs
        self._dphase = 2.0 * math.pi * v["rate_hz"] / fs

    def reset(self) -> None:
        self._buf = np.zeros((2, self._buf_size))
        self._pos = np.zeros(1, dtype=np.int64)
        self._phase = np.zeros(1)

    def process(self, x: np.ndarray) -> np.ndarray:
        """``(2, n) -> (2, n)``: dry/wet mix."""
        x = self._check_stereo(x)
        out = np.empty_like(x)
        _chorus_kernel(x, out, self._buf, self._pos, self._phase, self._base, self._depth,
                       self._dphase, int(round(self._values["taps"])), self._values["mix"])
        return out


# ----------------------------------------------------------------------------- saturation
_SAT_MODES = ("tanh", "soft", "hard", "tube")
#: Decimation low-pass at 4 fs: Kaiser (beta 8, ~80 dB), 193 taps, cutoff 0.42 fs, so the
#: transition band (~0.37 fs .. 0.47 fs) ends below fs / 2 and harmonics between fs / 2
#: and 1.5 fs cannot fold back into the audio band. Delay: 96 taps = 24 frames.
_DEC_TAPS = firwin_kaiser(193, 0.42 / 2.0, 8.0)
_TUBE_BIAS = 0.3


@numba.njit(cache=True)
def _shape(x, mode):  # pragma: no cover
    if mode == 0:
        return math.tanh(x)
    if mode == 1:  # cubic soft clip, saturates at 1: 1.5 (x - x^3 / 3)
        if x >= 1.0:
            return 1.0
        if x <= -1.0:
            return -1.0
        return 1.5 * (x - x * x * x / 3.0)
    if mode == 2:
        return min(1.0, max(-1.0, x))
    return math.tanh(x + _TUBE_BIAS) - math.tanh(_TUBE_BIAS)  # asymmetric (even harmonics)


@numba.njit(cache=True)
def _logcosh(x):  # pragma: no cover
    a = abs(x)
    return a + math.log1p(math.exp(-2.0 * a)) - math.log(2.0)


@numba.njit(cache=True)
def _antideriv(x, mode):  # pragma: no cover
    """Antiderivative F of each shape (F' = f), for first-order ADAA."""
    if mode == 0:
        return _logcosh(x)
    if mode == 1:
        a = abs(x)
        if a >= 1.0:
            return a - 0.375
        return 1.5 * (0.5 * x * x - x * x * x * x / 12.0)
    if mode == 2:
        a = abs(x)
        if a >= 1.0:
            return a - 0.5
        return 0.5 * x * x
    return _logcosh(x + _TUBE_BIAS) - x * math.tanh(_TUBE_BIAS)


#: Frames per tile of the saturation kernel (its scratch arrays hold one tile).
_SAT_TILE = 256
#: Frames of oversampled history per polyphase branch the decimator reaches back.
_SAT_VHIST = (_DEC_TAPS.size + 3) // 4


@numba.njit(cache=True)
def _saturation_kernel(x, out, taps, dec, drive, mode, ext, vbuf, x_prev, u_t, dc_r, dc_z):  # pragma: no cover
    """4x oversampled ADAA waveshaper followed by the DC blocker, a tile of frames at a time.

    Upsampling: polyphase interpolator ``taps`` (4, m + 1); ``ext[c, :m]`` holds the last m
    inputs in time order, the tile is copied after them. The shaped 4x stream ``v`` is kept
    per branch in ``vbuf[c, k, :]`` (``_SAT_VHIST`` frames of history, then the tile) and
    decimated by 4 at phase 0 through ``dec`` (odd length, unit DC gain). The DC blocker is
    ``scipy.signal.lfilter([1, -1], [1, -dc_r])`` (direct form II transposed, state ``dc_z``).

    Both FIRs run tap by tap over the tile (``acc[i] += w_j * x[i - j]``, ``j`` outer): each
    output still adds its products in the order ``j = 0, 1, ...``, so the values are those of
    the per-sample loop, but the inner loops have no dependency between frames and vectorize.
    ``u_t`` (4, ``_SAT_TILE``) is scratch.
    """
    n_ph, n_t = taps.shape
    m = n_t - 1
    n_dec = dec.shape[0]
    hv = vbuf.shape[2] - _SAT_TILE
    n = x.shape[1]
    acc = np.empty(_SAT_TILE)
    for c in range(x.shape[0]):
        xp = x_prev[c]
        fp = _antideriv(xp, mode)
        e = ext[c]
        z = dc_z[c]
        for lo in range(0, n, _SAT_TILE):
            w = min(_SAT_TILE, n - lo)
            for i in range(w):
                e[m + i] = x[c, lo + i]
            # u[4 t + k] = sum_j taps[k, j] x[t - j]
            for k in range(n_ph):
                t0 = taps[k, 0]
                for i in range(w):
                    acc[i] = t0 * e[m + i]
                for j in range(1, n_t):
                    tj = taps[k, j]
                    src = e[m - j:m - j + w]  # a view: plain indices let LLVM vectorize
                    for i in range(w):
                        acc[i] += tj * src[i]
                for i in range(w):
                    u_t[k, i] = acc[i] * drive
            # first-order ADAA in stream order: v = (F(u) - F(u_prev)) / (u - u_prev)
            for i in range(w):
                for k in range(n_ph):
                    u = u_t[k, i]
                    fu = _antideriv(u, mode)
                    dx = u - xp
                    if abs(dx) > 1e-9:
                        v = (fu - fp) / dx
                    else:
                        v = _shape(0.5 * (u + xp), mode)
                    xp = u
                    fp = fu
                    vbuf[c, k, hv + i] = v
            # y[t] = sum_d dec[d] v[4 t - d]: v[4 t - 4 q - r] is branch (4 - r) % 4 at frame
            # t - q - (r > 0)
            o = out[c, lo:lo + w]
            for i in range(w):
                o[i] = 0.0
            for d in range(n_dec):
                q = d // n_ph
                r = d - q * n_ph
                back = q + 1 if r > 0 else q
                cd = dec[d]
                src = vbuf[c, (n_ph - r) % n_ph, hv - back:hv - back + w]
                for i in range(w):
                    o[i] += cd * src[i]
            for j in range(m):
                e[j] = e[w + j]
            for k in range(n_ph):
                for j in range(hv):
                    vbuf[c, k, j] = vbuf[c, k, w + j]
            for i in range(w):  # DC blocker: y = x + z; z = -x + r y
                xi = o[i]
                yi = xi + z
                z = xi * -1.0 - yi * -dc_r
                o[i] = yi
        dc_z[c] = z
        x_prev[c] = xp


class Saturation(_ParamProcessor):
    """Waveshaping distortion: harmonics grow with ``drive_db``; 4x oversampling + ADAA against aliasing.

    Modes: ``tanh``; ``soft`` (cubic, 1.5 (x - x^3/3)); ``hard`` (clip at +-1); ``tube``
    (``tanh(x + 0.3) - tanh(0.3)``: asymmetric, even harmonics). The input is multiplied
    by ``drive_db`` before the curve and the output by ``output_db``; a 10 Hz one-pole
    DC blocker follows (the tube mode makes DC). Latency: ``latency_frames`` (36 frames:
    12 for the interpolator, 24 for the decimator); ``mix`` blends with the equally delayed dry signal.
    """

    PARAMS = (
        Param("drive_db", 6.0, 0.0, 48.0, doc="input gain into the curve, dB"),
        Param("mode", "tanh", doc="transfer curve", choices=_SAT_MODES),
        Param("output_db", 0.0, -48.0, 12.0, doc="output gain, dB"),
        Param("mix", 1.0, 0.0, 1.0, doc="wet share"),
    )

    def __init__(self, sample_rate: int, **params: float | str) -> None:
        self._init_params(sample_rate, params)
        self.reset()

    @property
    def latency_frames(self) -> int:
        """Delay of the oversampling filters (up + down), frames."""
        return (_TP_TAPS.shape[1] - 1) // 2 + (_DEC_TAPS.size - 1) // 8

    def _update(self) -> None:
        v = self._values
        self._drive = 10.0 ** (v["drive_db"] / 20.0)
        self._mode = _SAT_MODES.index(v["mode"])
        self._out_gain = 10.0 ** (v["output_db"] / 20.0)
        self._dc_r = 1.0 - 2.0 * math.pi * 10.0 / self.sample_rate

    def reset(self) -> None:
        m = _TP_TAPS.shape[1] - 1
        self._ext = np.zeros((2, m + _SAT_TILE))
        self._vbuf = np.zeros((2, _TP_TAPS.shape[0], _SAT_VHIST + _SAT_TILE))
        self._u = np.empty((_TP_TAPS.shape[0], _SAT_TILE))
        self._x_prev = np.zeros(2)
        self._dc_z = np.zeros(2)
        self._dry = np.zeros((2, self.latency_frames))

    def process(self, x: np.ndarray) -> np.ndarray:
        """``(2, n) -> (2, n)`` (delayed by ``latency_frames``)."""
        x = self._check_stereo(x)
        wet = np.empty_like(x)
        _saturation_kernel(x, wet, _TP_TAPS, _DEC_TAPS, self._drive, self._mode, self._ext, self._vbuf,
                           self._x_prev, self._u, self._dc_r, self._dc_z)
        wet *= self._out_gain
        mix = self._values["mix"]
        if mix >= 1.0:
            return wet
        ext = np.concatenate([self._dry, x], axis=1)
        dry = ext[:, :x.shape[1]]
        self._dry = ext[:, x.shape[1]:].copy()
        return mix * wet + (1.0 - mix) * dry


# ----------------------------------------------------------------------------- bit crusher
class BitCrusher(_ParamProcessor):
    """Quantizer to ``bits`` (step ``2 / 2**bits`` over [-1, 1], mid-tread) after a sample-and-hold by ``downsample``.

    ``bits`` may be fractional (step ``2**(1 - bits)``); the hold counter is carried across blocks.
    """

    PARAMS = (
        Param("bits", 8.0, 1.0, 24.0, doc="resolution, bits"),
        Param("downsample", 1.0, 1.0, 64.0, doc="hold each sample this many frames (integer)"),
        Param("mix", 1.0, 0.0, 1.0, doc="wet share"),
    )

    def __init__(self, sample_rate: int, **params: float) -> None:
        self._init_params(sample_rate, params)
        self.reset()

    def _update(self) -> None:
        self._step = 2.0 ** (1.0 - self._values["bits"])
        self._hold = int(round(self._values["downsample"]))

    def reset(self) -> None:
        self._held = np.zeros(2)
        self._count = 0  # frames since the last sampled value

    def process(self, x: np.ndarray) -> np.ndarray:
        """``(2, n) -> (2, n)``."""
        x = self._check_stereo(x)
        n = x.shape[1]
        h = self._hold
        idx = np.arange(n) + self._count  # frame index relative to the last sample instant
        take = idx % h == 0
        src = np.where(take, np.arange(n), -1)
        src = np.maximum.accumulate(src)  # last sampled frame (or -1: the held value)
        held = np.where(src >= 0, x[:, np.maximum(src, 0)], self._held[:, None])
        if np.any(take):
            self._held = x[:, np.nonzero(take)[0][-1]].copy()
        self._count = (self._count + n) % h
        y = np.clip(self._step * np.round(held / self._step), -1.0, 1.0)
        mix = self._values["mix"]
        return y if mix >= 1.0 else mix * y + (1.0 - mix) * x


# ----------------------------------------------------------------------------- parametric EQ
_EQ_KINDS = BIQUAD_KINDS


def rbj_biquad(kind: str, freq_hz: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """RBJ Audio EQ Cookbook biquad as one ``sosfilt`` row ``[b0, b1, b2, 1, a1, a2]``.

    Validates the band, then uses :func:`symphony.dsp.filters.rbj_coefficients` (shelves:
    ``alpha = sin(w0) / (2 Q)``, Q = 0.7071 ~ shelf slope 1).
    """
    if kind not in _EQ_KINDS:
        raise ParameterError(f"EQ band kind must be one of {', '.join(_EQ_KINDS)}, got {kind!r}")
    fs = float(sample_rate)
    if not 0.0 < freq_hz < 0.5 * fs:
        raise ParameterError(f"EQ band freq_hz must be in (0, {0.5 * fs}), got {freq_hz!r}")
    if not q > 0.0:
        raise ParameterError(f"EQ band q must be > 0, got {q!r}")
    return rbj_coefficients(kind, float(freq_hz), float(q), float(gain_db), sample_rate)[0]


class ParametricEq(_ParamProcessor):
    """Cascade of RBJ biquads (``sosfilt`` with carried state): response = product of the bands.

    Either give ``bands`` -- a sequence of ``(kind, freq_hz, gain_db, q)`` with kind in
    peak | lowshelf | highshelf | lowpass | highpass | bandpass | notch -- or use the
    score-facing three-band parameters of ``PARAMS`` (low shelf, peak, high shelf; a band
    with 0 dB gain is left out). ``bands`` replaces the three-band layout when given.
    """

    PARAMS = (
        Param("low_hz", 120.0, 20.0, 1000.0, doc="low shelf corner, Hz"),
        Param("low_db", 0.0, -24.0, 24.0, doc="low shelf gain, dB"),
        Param("mid_hz", 1000.0, 100.0, 10000.0, doc="peak centre, Hz"),
        Param("mid_db", 0.0, -24.0, 24.0, doc="peak gain, dB"),
        Param("mid_q", 1.0, 0.1, 20.0, doc="peak Q"),
        Param("high_hz", 8000.0, 1000.0, 20000.0, doc="high shelf corner, Hz"),
        Param("high_db", 0.0, -24.0, 24.0, doc="high shelf gain, dB"),
    )

    def __init__(self, sample_rate: int, *, bands: Sequence[tuple[str, float, float, float]] | None = None,
                 **params: float) -> None:
        self._bands = None if bands is None else [tuple(b) for b in bands]
        self._init_params(sample_rate, params)
        self.reset()

    def set(self, *, bands: Sequence[tuple[str, float, float, float]] | None = None, **params: float) -> None:
        """Validate and apply ``PARAMS`` values and/or a new ``bands`` list (state kept per section count)."""
        if bands is not None:
            self._bands = [tuple(b) for b in bands]
        super().set(**params)

    def _update(self) -> None:
        fs = self.sample_rate
        if self._bands is not None:
            bands = self._bands
        else:
            v = self._values
            hi = min(v["high_hz"], 0.45 * fs)
            bands = [("lowshelf", v["low_hz"], v["low_db"], 0.7071), ("peak", v["mid_hz"], v["mid_db"], v["mid_q"]),
                     ("highshelf", hi, v["high_db"], 0.7071)]
            bands = [b for b in bands if b[2] != 0.0]
        rows = []
        for band in bands:
            if len(band) != 4:
                raise ParameterError(f"EQ band must be (kind, freq_hz, gain_db, q), got {band!r}")
            kind, f, g, q = band
            rows.append(rbj_biquad(kind, float(f), float(g), float(q), fs))
        sos = np.array(rows) if rows else np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
        old = getattr(self, "_sos", None)
        self._sos = sos
        if old is not None and old.shape != sos.shape:
            self.reset()

    def reset(self) -> None:
        self._zi = np.zeros((self._sos.shape[0], 2, 2))

    def process(self, x: np.ndarray) -> np.ndarray:
        """``(2, n) -> (2, n)``."""
        x = self._check_stereo(x)
        return sos_cascade(self._sos, x, self._zi)  # = scipy.signal.sosfilt, bit for bit


EFFECTS: Mapping[str, type] = MappingProxyType({
    "reverb": Reverb,
    "delay": StereoDelay,
    "chorus": Chorus,
    "saturation": Saturation,
    "bitcrusher": BitCrusher,
    "eq": ParametricEq,
})
