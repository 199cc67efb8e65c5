"""Filters: TPT state-variable, nonlinear ZDF ladder, one-pole and RBJ biquad.

Every filter takes and returns float64 ``(channels, n)`` arrays (time last) and carries
its state between calls, so any split of a signal into blocks gives the same samples.

Per-sample recursions with audio-rate cutoff live in small numba kernels
(``_svf_kernel``, ``_ladder_kernel``, ``_one_pole_kernel``); a modulated cutoff defeats
``lfilter``. Static filters (:class:`Biquad`) go through ``scipy.signal.sosfilt``.

Discretization: the SVF, ladder and one-pole are topology-preserving transforms (TPT,
trapezoidal integrators with zero-delay feedback solved exactly), V. Zavalishin,
*The Art of VA Filter Design*, rev. 2.1.2 (2020), ch. 3-5. Their linear responses are
therefore exactly the bilinear transform of the analog prototype with the cutoff
pre-warped, ``s = j tan(w / 2) / tan(pi fc / fs)``; the tests compare against that.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from symphony.dsp.base import DENORMAL_FLOOR, Processor, check_range, check_sample_rate
from symphony.dsp.linear import sos_cascade
from symphony.errors import ParameterError

__all__ = ["FILTER_MODES", "BIQUAD_KINDS", "ONE_POLE_MODES",
           "StateVariableFilter", "LadderFilter", "Biquad", "OnePole", "rbj_coefficients"]

#: Outputs of :class:`StateVariableFilter`.
FILTER_MODES = ("lowpass", "bandpass", "highpass", "notch")
#: Kinds of :class:`Biquad` (RBJ Audio-EQ-Cookbook).
BIQUAD_KINDS = ("lowpass", "highpass", "bandpass", "notch", "peak", "lowshelf", "highshelf", "allpass")
ONE_POLE_MODES = ("lowpass", "highpass")

#: Lowest cutoff the kernels accept, in Hz; audio-rate cutoffs are clamped to
#: ``[MIN_CUTOFF_HZ, MAX_CUTOFF_RATIO * sample_rate]`` sample by sample.
MIN_CUTOFF_HZ = 10.0
MAX_CUTOFF_RATIO = 0.49
#: Range of the SVF quality factor (audio-rate q is clamped to it).
MIN_Q = 0.1
MAX_Q = 100.0
#: Range of the ladder resonance; ``k = 4 * resonance``, 1.0 = onset of self-oscillation.
MAX_RESONANCE = 1.2


# --------------------------------------------------------------------------- kernels
# Each kernel loops channels x samples, writes into a preallocated ``out`` and updates the
# state arrays in place. Parameter arrays have shape (1 or channels, 1 or n): a length-1
# time axis means "constant", and the coefficients are then computed once per channel
# (hoisted) instead of once per sample. State magnitudes below DENORMAL_FLOOR are flushed
# to exactly 0 after every sample so a decaying filter never reaches subnormal numbers.


_HALF_PI = 0.5 * math.pi
_QUARTER_PI = 0.25 * math.pi


@njit(cache=True, inline="always")
def _tan(x):  # pragma: no cover - jit
    """tan(x) for 0 <= x < pi/2 to ~3e-15 relative error, inlined (no libm call).

    Lambert's continued fraction for tan truncated after 9 terms (a [9/10] Pade form) on
    [0, pi/4]; above, ``tan x = 1 / tan(pi/2 - x)``. Inlining lets the CPU overlap the
    coefficient computation of several channels, which a libm call prevents.
    """
    inv = x > _QUARTER_PI
    y = _HALF_PI - x if inv else x
    t = y * y
    num = y * (654729075.0 + t * (-91891800.0 + t * (2837835.0 + t * (-25740.0 + t * 55.0))))
    den = 654729075.0 + t * (-310134825.0 + t * (18918900.0 + t * (-315315.0 + t * (1485.0 - t))))
    return den / num if inv else num / den


@njit(cache=True, inline="always")
def svf_gains(g, k):
    """``(a1, a2, a3)`` of the TPT SVF for ``g = tan(pi fc / fs)`` and damping ``k = 1/q``
    (A. Simper, Cytomic 2013: ``a1 = 1/(1 + g (g + k))``, ``a2 = g a1``, ``a3 = g a2``)."""
    a1 = 1.0 / (1.0 + g * (g + k))
    a2 = g * a1
    return a1, a2, g * a2


@njit(cache=True, inline="always")
def svf_step(xi, a1, a2, a3, s1, s2):
    """One sample of the TPT SVF: ``(band, low, s1, s2)`` integrator outputs and new states.

    The per-sample body of :func:`_svf_kernel` (Simper's solved form), inlined into it and
    into the instruments' fused voice kernels. States below DENORMAL_FLOOR come back as 0.
    """
    v3 = xi - s2
    v1 = a1 * s1 + a2 * v3  # band-pass integrator output
    v2 = s2 + a2 * s1 + a3 * v3  # low-pass integrator output
    s1 = 2.0 * v1 - s1
    s2 = 2.0 * v2 - s2
    if abs(s1) < DENORMAL_FLOOR:
        s1 = 0.0
    if abs(s2) < DENORMAL_FLOOR:
        s2 = 0.0
    return v1, v2, s1, s2


@njit(cache=True, inline="always")
def tan_prewarp(x):
    """``tan(x)`` for ``0 <= x < pi/2`` (inlined; see :func:`_tan`): the TPT gain ``g = tan(pi fc / fs)``."""
    return _tan(x)


@njit(cache=True)
def _svf_kernel(x, cutoff_hz, q, sample_rate, mode, ic1, ic2, out):  # pragma: no cover - jit
    """TPT SVF (Zavalishin 2020, ch. 4), in A. Simper's solved form with a1, a2, a3.

    A. Simper, "Linear Trapezoidal Integrated SVF" / "Solving the continuous SVF equations
    using trapezoidal integration and equivalent currents", Cytomic technical paper (2013).
    """
    n_ch, n = x.shape
    lo = MIN_CUTOFF_HZ
    hi = MAX_CUTOFF_RATIO * sample_rate
    w = math.pi / sample_rate
    cut_mod = cutoff_hz.shape[1] > 1
    q_mod = q.shape[1] > 1
    any_mod = cut_mod or q_mod
    if any_mod and n_ch > 1 and cutoff_hz.shape[0] == 1 and q.shape[0] == 1:
        # one modulated cutoff shared by all channels (a stereo voice): sample-major, so
        # the coefficients are computed once per sample instead of once per channel
        _svf_shared(x, cutoff_hz, q, lo, hi, w, mode, ic1, ic2, out)
        return
    for c in range(n_ch):
        rc = c if cutoff_hz.shape[0] > 1 else 0
        rq = c if q.shape[0] > 1 else 0
        s1 = ic1[c]
        s2 = ic2[c]
        g = _tan(w * min(max(cutoff_hz[rc, 0], lo), hi))
        k = 1.0 / min(max(q[rq, 0], MIN_Q), MAX_Q)
        a1 = 1.0 / (1.0 + g * (g + k))
        a2 = g * a1
        a3 = g * a2
        for i in range(n):
            if any_mod:
                if cut_mod:
                    g = _tan(w * min(max(cutoff_hz[rc, i], lo), hi))
                if q_mod:
                    k = 1.0 / min(max(q[rq, i], MIN_Q), MAX_Q)
                a1 = 1.0 / (1.0 + g * (g + k))
                a2 = g * a1
                a3 = g * a2
            xi = x[c, i]
            v1, v2, s1, s2 = svf_step(xi, a1, a2, a3, s1, s2)
            if mode == 0:
                out[c, i] = v2
            elif mode == 1:
                out[c, i] = k * v1  # constant 0 dB peak gain band-pass
            elif mode == 2:
                out[c, i] = xi - k * v1 - v2
            else:
                out[c, i] = xi - k * v1
        ic1[c] = s1
        ic2[c] = s2


@njit(cache=True)
def _svf_shared(x, cutoff_hz, q, lo, hi, w, mode, ic1, ic2, out):  # pragma: no cover - jit
    """:func:`_svf_kernel` for a cutoff/q row shared by every channel (same arithmetic)."""
    n_ch, n = x.shape
    cut_mod = cutoff_hz.shape[1] > 1
    q_mod = q.shape[1] > 1
    g = _tan(w * min(max(cutoff_hz[0, 0], lo), hi))
    k = 1.0 / min(max(q[0, 0], MIN_Q), MAX_Q)
    for i in range(n):
        if cut_mod:
            g = _tan(w * min(max(cutoff_hz[0, i], lo), hi))
        if q_mod:
            k = 1.0 / min(max(q[0, i], MIN_Q), MAX_Q)
        a1 = 1.0 / (1.0 + g * (g + k))
        a2 = g * a1
        a3 = g * a2
        for c in range(n_ch):
            xi = x[c, i]
            v1, v2, s1, s2 = svf_step(xi, a1, a2, a3, ic1[c], ic2[c])
            ic1[c] = s1
            ic2[c] = s2
            if mode == 0:
                out[c, i] = v2
            elif mode == 1:
                out[c, i] = k * v1
            elif mode == 2:
                out[c, i] = xi - k * v1 - v2
            else:
                out[c, i] = xi - k * v1


#: Below this |u|, :func:`_tanh` is the inlined [9/10] Pade form (no libm call).
TANH_PADE_LIMIT = 1.5


@njit(cache=True, inline="always")
def _tanh_pade(u):  # pragma: no cover - jit
    """Lambert's continued fraction for tanh truncated after 9 terms, the [9/10] Pade form.

    The ``_tan`` polynomials with the signs of ``tanh x = -i tan(i x)``; measured <= 4.5e-16
    relative error on ``|u| <= 1.5`` (2e-14 at 2). Branch-free, so loops over it vectorize.
    """
    t = u * u
    num = u * (654729075.0 + t * (91891800.0 + t * (2837835.0 + t * (25740.0 + t * 55.0))))
    den = 654729075.0 + t * (310134825.0 + t * (18918900.0 + t * (315315.0 + t * (1485.0 + t))))
    return num / den


@njit(cache=True, inline="always")
def _tanh(u):  # pragma: no cover - jit
    """tanh to ~5e-16 relative error, faster than libm tanh on the loop's critical path.

    :func:`_tanh_pade` for ``|u| <= 1.5`` (nearly every sample of a ladder that is not
    overdriven: one division, no libm call); above, ``(e^{2|u|} - 1) / (e^{2|u|} + 1)``;
    +-1 beyond 20.
    """
    a = abs(u)
    if a <= TANH_PADE_LIMIT:
        return _tanh_pade(u)
    if a > 20.0:
        return math.copysign(1.0, u)
    e = math.exp(2.0 * a)
    return math.copysign((e - 1.0) / (e + 1.0), u)


_LN2 = math.log(2.0)


@njit(cache=True, inline="always")
def exp2_simd(x):  # pragma: no cover - jit
    """``2 ** x`` for ``|x| <= 60`` (clamped), within ~2 ulp, branch-free so loops vectorize.

    ``x = n + f`` with ``n = round(x)``; ``2^f = e^(f ln 2)`` by its Taylor series to degree
    13 (|f ln 2| <= 0.347: truncation error < 1e-17); ``2^n`` exactly as a product of
    selected powers of 2 (or of 1/2). For per-sample cutoffs inside SIMD loops, where a
    libm call would stop the vectorization.
    """
    x = min(max(x, -60.0), 60.0)
    n = math.floor(x + 0.5)
    y = (x - n) * _LN2
    p = 1.0 + y * (1.0 + y * (1.0 / 2.0 + y * (1.0 / 6.0 + y * (1.0 / 24.0 + y * (
        1.0 / 120.0 + y * (1.0 / 720.0 + y * (1.0 / 5040.0 + y * (1.0 / 40320.0 + y * (
            1.0 / 362880.0 + y * (1.0 / 3628800.0 + y * (1.0 / 39916800.0 + y * (
                1.0 / 479001600.0 + y * (1.0 / 6227020800.0)))))))))))))
    m = np.int32(abs(n))
    b1 = 2.0 if n > 0.0 else 0.5
    b2 = b1 * b1
    b4 = b2 * b2
    b8 = b4 * b4
    b16 = b8 * b8
    b32 = b16 * b16
    scale = ((b1 if m & 1 else 1.0) * (b2 if m & 2 else 1.0) * (b4 if m & 4 else 1.0)
             * (b8 if m & 8 else 1.0) * (b16 if m & 16 else 1.0) * (b32 if m & 32 else 1.0))
    return p * scale


@njit(cache=True, inline="always")
def _tan_fraction(x):  # pragma: no cover - jit
    """``(a, b)`` with ``tan(x) = a / b`` for ``0 <= x < pi/2``: the :func:`_tan` Pade form
    without its division (and branch-free: both octants computed, one selected)."""
    inv = x > _QUARTER_PI
    y = _HALF_PI - x if inv else x
    t = y * y
    num = y * (654729075.0 + t * (-91891800.0 + t * (2837835.0 + t * (-25740.0 + t * 55.0))))
    den = 654729075.0 + t * (-310134825.0 + t * (18918900.0 + t * (-315315.0 + t * (1485.0 - t))))
    return (den, num) if inv else (num, den)


@njit(cache=True, inline="always")
def ladder_gains_simd(x, k):  # pragma: no cover - jit
    """:func:`ladder_gains` of ``g = tan(x)`` (``x = pi fc / fs``) with 2 divisions instead of 4.

    With ``g = a / b``: ``h = b / (a + b)``, ``G = a / (a + b)``; branch-free (vectorizes).
    Equal to ``ladder_gains(_tan(x), k)`` within a few ulp.
    """
    a, b = _tan_fraction(x)
    r = 1.0 / (a + b)
    gg = a * r
    return b * r, gg, 1.0 / (1.0 + k * (gg * gg * gg * gg))


@njit(cache=True, inline="always")
def svf_gains_simd(x, k):  # pragma: no cover - jit
    """:func:`svf_gains` of ``g = tan(x)`` with one division: with ``g = a / b``,
    ``a1 = b^2 / (b^2 + a (a + k b))``, ``a2 = a b / (...)``, ``a3 = a^2 / (...)``.
    Branch-free (vectorizes); equal to ``svf_gains(_tan(x), k)`` within a few ulp."""
    a, b = _tan_fraction(x)
    r = 1.0 / (b * b + a * (a + k * b))
    return b * b * r, a * b * r, a * a * r


@njit(cache=True, inline="always")
def ladder_gains(g, k):
    """``(h, G, inv)`` of the ZDF ladder for the prewarped gain ``g = tan(pi fc / fs)``.

    ``h = 1/(1+g)`` and ``G = g/(1+g)`` are the TPT one-pole's state and input gains,
    ``inv = 1/(1 + k G^4)`` solves the feedback loop (Zavalishin 2020, ch. 5.3).
    """
    h = 1.0 / (1.0 + g)
    gg = g * h
    return h, gg, 1.0 / (1.0 + k * (gg * gg * gg * gg))


@njit(cache=True, inline="always")
def ladder_step(xd, k, h, gg, inv, s0, s1, s2, s3):
    """One sample of the ZDF ladder: ``(y, s0, s1, s2, s3)`` from the driven input ``xd``.

    The per-sample body of :func:`_ladder_kernel` (see there), inlined into it and into
    the instruments' fused voice kernels. States below DENORMAL_FLOOR come back as 0.
    """
    big_s = h * (gg * (gg * (gg * s0 + s1) + s2) + s3)
    u = _tanh((xd - k * big_s) * inv)
    v = (u - s0) * gg
    y = v + s0
    s0 = y + v
    v = (y - s1) * gg
    y = v + s1
    s1 = y + v
    v = (y - s2) * gg
    y = v + s2
    s2 = y + v
    v = (y - s3) * gg
    y = v + s3
    s3 = y + v
    return (y, s0 if abs(s0) >= DENORMAL_FLOOR else 0.0, s1 if abs(s1) >= DENORMAL_FLOOR else 0.0,
            s2 if abs(s2) >= DENORMAL_FLOOR else 0.0, s3 if abs(s3) >= DENORMAL_FLOOR else 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def ladder_bank_step(x, k, h, gg, inv, s, t, y):  # pragma: no cover - jit
    """One sample of a bank of ZDF ladders: states ``s`` (4, m) -> ``t`` (4, m), outputs ``y`` (m,).

    Channel ``j`` gets the driven input ``x[j]`` and the gains ``h[j], gg[j], inv[j]``
    (:func:`ladder_gains`), feedback ``k``. Bit-identical to :func:`ladder_step` per
    channel, but written branch-free (the tanh argument clamped to +-1.5, where
    :func:`_tanh` is the Pade form) so the loop over channels compiles to SIMD
    instructions; if any channel's argument exceeded 1.5, the sample is redone with
    :func:`ladder_step` (exp branch). ``s`` and ``t`` must not overlap.
    """
    m = x.shape[0]
    over = False
    for j in range(m):
        g = gg[j]
        s0 = s[0, j]
        s1 = s[1, j]
        s2 = s[2, j]
        s3 = s[3, j]
        big_s = h[j] * (g * (g * (g * s0 + s1) + s2) + s3)
        u = (x[j] - k * big_s) * inv[j]
        uc = min(max(u, -TANH_PADE_LIMIT), TANH_PADE_LIMIT)
        over |= uc != u
        v = (_tanh_pade(uc) - s0) * g
        yy = v + s0
        s0 = yy + v
        v = (yy - s1) * g
        yy = v + s1
        s1 = yy + v
        v = (yy - s2) * g
        yy = v + s2
        s2 = yy + v
        v = (yy - s3) * g
        yy = v + s3
        s3 = yy + v
        t[0, j] = s0 if abs(s0) >= DENORMAL_FLOOR else 0.0
        t[1, j] = s1 if abs(s1) >= DENORMAL_FLOOR else 0.0
        t[2, j] = s2 if abs(s2) >= DENORMAL_FLOOR else 0.0
        t[3, j] = s3 if abs(s3) >= DENORMAL_FLOOR else 0.0
        y[j] = yy
    if over:
        for j in range(m):
            y[j], t[0, j], t[1, j], t[2, j], t[3, j] = ladder_step(
                x[j], k, h[j], gg[j], inv[j], s[0, j], s[1, j], s[2, j], s[3, j])


#: Channels the ladder kernel interleaves: independent recursions side by side hide the
#: latency of the serial feedback chain (~2x faster than channel after channel).
_LADDER_GROUP = 4


@njit(cache=True)
def _ladder_kernel(x, cutoff_hz, resonance, drive, sample_rate, state, out):  # pragma: no cover - jit
    """ZDF 4-pole ladder with a tanh input/feedback stage (Zavalishin 2020, ch. 5 and ch. 6).

    Linear part solved exactly: with TPT one-poles ``y = G*u + s/(1+g)`` the ladder output
    is ``y4 = G^4 u + S``; the loop ``u = d x - k y4`` gives ``u = (d x - k S)/(1 + k G^4)``.
    The nonlinearity is then applied to that solution (``u <- tanh(u)``, the "cheap"
    non-iterative ZDF approach): exact in the linear regime, bounded when self-oscillating.
    """
    n_ch, n = x.shape
    lo = MIN_CUTOFF_HZ
    hi = MAX_CUTOFF_RATIO * sample_rate
    w = math.pi / sample_rate
    cut_mod = cutoff_hz.shape[1] > 1
    cut_per_ch = cutoff_hz.shape[0] > 1
    res_mod = resonance.shape[1] > 1
    res_per_ch = resonance.shape[0] > 1
    grp = _LADDER_GROUP
    # per channel of the group: state and hoisted coefficients
    # (rows: s0..s3, h = 1/(1+g), G = g/(1+g), G^4, k, 1/(1+k G^4))
    z = np.empty((9, grp))
    h_shared = 0.0
    gg_shared = 0.0
    for c0 in range(0, n_ch, grp):
        m = min(grp, n_ch - c0)
        for j in range(m):
            c = c0 + j
            for q in range(4):
                z[q, j] = state[c, q]
            g = _tan(w * min(max(cutoff_hz[c if cut_per_ch else 0, 0], lo), hi))
            z[4, j] = 1.0 / (1.0 + g)
            z[5, j] = g * z[4, j]
            z[6, j] = z[5, j] ** 4
            z[7, j] = 4.0 * min(max(resonance[c if res_per_ch else 0, 0], 0.0), MAX_RESONANCE)
            z[8, j] = 1.0 / (1.0 + z[7, j] * z[6, j])
        for i in range(n):
            if cut_mod and not cut_per_ch:  # one shared cutoff: one tan() per sample
                g = _tan(w * min(max(cutoff_hz[0, i], lo), hi))
                h_shared = 1.0 / (1.0 + g)
                gg_shared = g * h_shared
            for j in range(m):
                c = c0 + j
                if cut_mod:
                    if cut_per_ch:
                        g = _tan(w * min(max(cutoff_hz[c, i], lo), hi))
                        h = 1.0 / (1.0 + g)
                        gg = g * h
                    else:
                        h = h_shared
                        gg = gg_shared
                    g4 = gg * gg * gg * gg
                else:
                    h = z[4, j]
                    gg = z[5, j]
                    g4 = z[6, j]
                if res_mod:
                    k = 4.0 * min(max(resonance[c if res_per_ch else 0, i], 0.0), MAX_RESONANCE)
                else:
                    k = z[7, j]
                if cut_mod or res_mod:
                    inv = 1.0 / (1.0 + k * g4)
                else:
                    inv = z[8, j]
                out[c, i], z[0, j], z[1, j], z[2, j], z[3, j] = ladder_step(
                    drive * x[c, i], k, h, gg, inv, z[0, j], z[1, j], z[2, j], z[3, j])
        for j in range(m):
            for q in range(4):
                state[c0 + j, q] = z[q, j]


@njit(cache=True)
def _one_pole_kernel(x, cutoff_hz, sample_rate, highpass, state, out):  # pragma: no cover - jit
    """TPT one-pole, Zavalishin (2020) fig. 3.31: ``v = G (x - s); lp = v + s; s = lp + v``."""
    n_ch, n = x.shape
    lo = MIN_CUTOFF_HZ
    hi = MAX_CUTOFF_RATIO * sample_rate
    w = math.pi / sample_rate
    cut_mod = cutoff_hz.shape[1] > 1
    for c in range(n_ch):
        rc = c if cutoff_hz.shape[0] > 1 else 0
        s = state[c]
        g = _tan(w * min(max(cutoff_hz[rc, 0], lo), hi))
        gg = g / (1.0 + g)
        for i in range(n):
            if cut_mod:
                g = _tan(w * min(max(cutoff_hz[rc, i], lo), hi))
                gg = g / (1.0 + g)
            xi = x[c, i]
            v = (xi - s) * gg
            lp = v + s
            s = lp + v
            if abs(s) < DENORMAL_FLOOR:
                s = 0.0
            out[c, i] = xi - lp if highpass else lp
        state[c] = s


# --------------------------------------------------------------------------- helpers


def _check_channels(channels: int) -> int:
    try:
        value = int(channels)
    except (TypeError, ValueError):
        raise ParameterError(f"channels must be a positive integer, got {channels!r}") from None
    if value != channels or value < 1:
        raise ParameterError(f"channels must be a positive integer, got {channels!r}")
    return value


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _check_input(x: np.ndarray, channels: int) -> np.ndarray:
    """Return ``x`` as a C-contiguous float64 ``(channels, n)`` array or raise."""
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != channels:
        raise ParameterError(f"input must have shape (channels={channels}, n), got {np.shape(x)}")
    return arr


def _param_array(name: str, value, default: float, channels: int, n: int) -> np.ndarray:
    """Normalize a float / audio-rate parameter to a (1|channels, 1|n) float64 array.

    ``None`` means the stored ``default``; a float is constant over the block; an array of
    shape ``(n,)``, ``(1, n)`` or ``(channels, n)`` is audio-rate. Values must be finite;
    range clamping happens inside the kernel.
    """
    if value is None:
        return np.full((1, 1), default)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[0] not in (1, channels) or arr.shape[1] not in (1, n):
        raise ParameterError(
            f"{name} must be a float or an array of shape ({channels}, {n}), (1, {n}) or ({n},); "
            f"got shape {np.shape(value)}")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} must be finite, got an array containing NaN or Inf")
    return np.ascontiguousarray(arr)


def _scalar_or_array(name, value, default, channels, n):
    # A plain float is passed as (1, 1) so the kernel hoists its coefficients; an array with
    # n == 1 is also (.., 1) which is the same thing.
    if value is not None and np.ndim(value) == 0:
        v = float(value)
        if not math.isfinite(v):
            raise ParameterError(f"{name} must be finite, got {value!r}")
        return np.full((1, 1), v)
    return _param_array(name, value, default, channels, n)


class _Settable(Processor):
    """Shared ``set()``: validate names, then every value through ``_validate``."""

    _params: tuple[str, ...] = ()

    def set(self, **params) -> None:
        """Validate and store parameters (see the class docstring); state is kept.

        Raises
        ------
        ParameterError
            On an unknown name or an out-of-range value.
        """
        unknown = sorted(set(params) - set(self._params))
        if unknown:
            raise ParameterError(
                f"unknown parameter(s) {', '.join(unknown)} for {type(self).__name__}; "
                f"known: {', '.join(self._params)}")
        for name, value in params.items():
            setattr(self, name, self._validate(name, value))
        self._update()

    def _validate(self, name, value):  # pragma: no cover - interface
        raise NotImplementedError

    def _update(self) -> None:
        """Recompute derived coefficients (nothing by default)."""


# --------------------------------------------------------------------------- SVF


class StateVariableFilter(_Settable):
    """TPT / zero-delay-feedback state-variable filter (Zavalishin), 12 dB/oct, per-sample cutoff and q.

    Linear response: the bilinear transform (cutoff pre-warped) of ``1/(s^2 + s/q + 1)``
    (low-pass), ``(s/q)/(...)`` (band-pass, 0 dB at the centre), ``s^2/(...)`` (high-pass)
    and ``(s^2 + 1)/(...)`` (notch). Unconditionally stable for any cutoff and q > 0, also
    under audio-rate modulation.

    Parameters
    ----------
    sample_rate : int, 8000..384000
    channels : int >= 1
    mode : {"lowpass", "bandpass", "highpass", "notch"}
    cutoff_hz : float, 10 <= cutoff_hz <= 0.49 * sample_rate
        Control-rate default, used when ``process`` gets no ``cutoff_hz``.
    q : float, 0.1 <= q <= 100
        Quality factor; 0.7071 = Butterworth, resonance peak ~ 20 log10(q) dB for q >> 1.

    Examples
    --------
    >>> f = StateVariableFilter(48000, channels=1, cutoff_hz=1000.0)
    >>> round(float(f.process(np.ones((1, 4800)))[0, -1]), 6)  # unity DC gain
    1.0
    """

    _params = ("mode", "cutoff_hz", "q")

    def __init__(self, sample_rate: int, *, channels: int, mode: str = "lowpass",
                 cutoff_hz: float = 1000.0, q: float = 0.7071) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = _check_channels(channels)
        self.set(mode=mode, cutoff_hz=cutoff_hz, q=q)
        self.reset()

    def _validate(self, name, value):
        if name == "mode":
            return _check_choice("mode", value, FILTER_MODES)
        if name == "cutoff_hz":
            return check_range("cutoff_hz", value, MIN_CUTOFF_HZ, MAX_CUTOFF_RATIO * self.sample_rate)
        return check_range("q", value, MIN_Q, MAX_Q)

    def _update(self) -> None:
        self._mode_index = FILTER_MODES.index(self.mode)

    def reset(self) -> None:
        """Clear the two integrator states (trapezoidal ``ic1eq``, ``ic2eq``)."""
        self._ic1 = np.zeros(self.channels)
        self._ic2 = np.zeros(self.channels)

    def process(self, x: np.ndarray, *, cutoff_hz: float | np.ndarray | None = None,
                q: float | np.ndarray | None = None) -> np.ndarray:
        """Filter ``x``.

        Parameters
        ----------
        x : ndarray, shape (channels, n)
        cutoff_hz : None, float or ndarray (channels, n) / (1, n) / (n,)
            None = the ``set()`` value; float = constant for this call; array = audio-rate.
            Clamped to [10 Hz, 0.49 * sample_rate] sample by sample inside the kernel.
        q : None, float or ndarray, as ``cutoff_hz``; clamped to [0.1, 100].

        Returns
        -------
        ndarray, float64, shape (channels, n)

        Raises
        ------
        ParameterError
            On a wrong shape or non-finite parameter values.
        """
        x = _check_input(x, self.channels)
        n = x.shape[1]
        c = _scalar_or_array("cutoff_hz", cutoff_hz, self.cutoff_hz, self.channels, n)
        qq = _scalar_or_array("q", q, self.q, self.channels, n)
        out = np.empty_like(x)
        if n:
            _svf_kernel(x, c, qq, float(self.sample_rate), self._mode_index, self._ic1, self._ic2, out)
        return out


# --------------------------------------------------------------------------- ladder


class LadderFilter(_Settable):
    """4-pole (24 dB/oct) transistor-ladder low-pass, resonance up to self-oscillation, tanh drive.

    Model: a zero-delay-feedback (TPT) ladder of four one-poles with global feedback
    ``k = 4 * resonance`` (Zavalishin 2020, ch. 5) and one tanh saturator on the
    feedback sum (the ladder's differential input pair), evaluated at the exact linear
    ZDF solution (the non-iterative "cheap" method of Zavalishin 2020, ch. 6). In the
    linear regime (small input, drive 1) the response is exactly the bilinear transform,
    cutoff pre-warped, of ``H(s) = d P^4 / (1 + k P^4)``, ``P = 1/(1 + s)``. Because the
    bilinear transform maps the analog stability limit ``k = 4`` at ``w = w_c`` onto
    itself, self-oscillation starts at ``resonance = 1.0`` at the cutoff frequency; the
    tanh bounds its amplitude (about 0.3-0.6 at resonance 1.05-1.2).

    Parameters
    ----------
    sample_rate : int, 8000..384000
    channels : int >= 1
    cutoff_hz : float, 10 <= cutoff_hz <= 0.49 * sample_rate (control-rate default)
    resonance : float, 0..1.2
        1.0 = onset of self-oscillation.
    drive : float, 0.1..10 (control-rate)
        Input gain into the tanh stage; 1 = unity gain, near-linear below ~ -30 dBFS.

    .. note::
       The passband (DC) gain is ``drive / (1 + 4 resonance)``: -14 dB at resonance 1.
       No gain compensation is applied (scale the output if needed).

    Examples
    --------
    >>> f = LadderFilter(48000, channels=1, cutoff_hz=1000.0)
    >>> round(float(f.process(np.full((1, 4800), 0.01))[0, -1]), 6)  # unity DC gain
    0.01
    """

    _params = ("cutoff_hz", "resonance", "drive")

    def __init__(self, sample_rate: int, *, channels: int, cutoff_hz: float = 1000.0,
                 resonance: float = 0.0, drive: float = 1.0) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = _check_channels(channels)
        self.set(cutoff_hz=cutoff_hz, resonance=resonance, drive=drive)
        self.reset()

    def _validate(self, name, value):
        if name == "cutoff_hz":
            return check_range("cutoff_hz", value, MIN_CUTOFF_HZ, MAX_CUTOFF_RATIO * self.sample_rate)
        if name == "resonance":
            return check_range("resonance", value, 0.0, MAX_RESONANCE)
        return check_range("drive", value, 0.1, 10.0)

    def reset(self) -> None:
        """Clear the four one-pole integrator states."""
        self._state = np.zeros((self.channels, 4))

    def reset_rows(self, rows) -> None:
        """Clear the state of some channels only (a voice of a filter bank starts a note)."""
        self._state[np.asarray(rows, dtype=np.int64)] = 0.0

    def process(self, x: np.ndarray, *, cutoff_hz: float | np.ndarray | None = None,
                resonance: float | np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """Filter ``x``.

        Parameters
        ----------
        x : ndarray, shape (channels, n), or (len(rows), n) with ``rows``
        cutoff_hz : None, float or ndarray (channels, n) / (channels, 1) / (1, n) / (n,)
            None = the ``set()`` value; ``(channels, 1)`` = a constant per channel;
            clamped to [10 Hz, 0.49 * sample_rate] per sample.
        resonance : None, float or ndarray, as ``cutoff_hz``; clamped to [0, 1.2].
        rows : int array, optional
            Process only these channels of the bank (``x`` and per-channel parameters
            then have ``len(rows)`` rows); the other channels keep their state.

        Returns
        -------
        ndarray, float64, shape (channels, n)

        Raises
        ------
        ParameterError
            On a wrong shape or non-finite parameter values.
        """
        if rows is None:
            x = _check_input(x, self.channels)
            state = self._state
        else:
            rows = np.asarray(rows, dtype=np.int64)
            x = _check_input(x, rows.size)
            state = self._state[rows]
        channels, n = x.shape
        c = _scalar_or_array("cutoff_hz", cutoff_hz, self.cutoff_hz, channels, n)
        r = _scalar_or_array("resonance", resonance, self.resonance, channels, n)
        out = np.empty_like(x)
        if n and channels:
            _ladder_kernel(x, c, r, self.drive, float(self.sample_rate), state, out)
            if rows is not None:
                self._state[rows] = state
        return out


# --------------------------------------------------------------------------- one-pole


class OnePole(_Settable):
    """One-pole low-pass / high-pass, 6 dB/oct, -3 dB at cutoff; TPT form, per-sample cutoff.

    Linear response: bilinear transform (pre-warped) of ``1/(1 + s)`` or ``s/(1 + s)``.
    As a DC blocker use ``mode="highpass"`` with ``cutoff_hz`` 10-20 Hz.

    Parameters
    ----------
    sample_rate : int, 8000..384000
    channels : int >= 1
    mode : {"lowpass", "highpass"}
    cutoff_hz : float, 10 <= cutoff_hz <= 0.49 * sample_rate (control-rate default)

    Examples
    --------
    >>> f = OnePole(48000, channels=1, mode="highpass", cutoff_hz=20.0)
    >>> bool(abs(f.process(np.ones((1, 48000)))[0, -1]) < 1e-6)  # DC removed
    True
    """

    _params = ("mode", "cutoff_hz")

    def __init__(self, sample_rate: int, *, channels: int, mode: str = "lowpass",
                 cutoff_hz: float = 1000.0) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = _check_channels(channels)
        self.set(mode=mode, cutoff_hz=cutoff_hz)
        self.reset()

    def _validate(self, name, value):
        if name == "mode":
            return _check_choice("mode", value, ONE_POLE_MODES)
        return check_range("cutoff_hz", value, MIN_CUTOFF_HZ, MAX_CUTOFF_RATIO * self.sample_rate)

    def reset(self) -> None:
        """Clear the integrator state."""
        self._state = np.zeros(self.channels)

    def process(self, x: np.ndarray, *, cutoff_hz: float | np.ndarray | None = None) -> np.ndarray:
        """Filter ``x`` (channels, n) -> (channels, n) float64; ``cutoff_hz`` as in the SVF.

        Raises
        ------
        ParameterError
            On a wrong shape or non-finite cutoff values.
        """
        x = _check_input(x, self.channels)
        n = x.shape[1]
        c = _scalar_or_array("cutoff_hz", cutoff_hz, self.cutoff_hz, self.channels, n)
        out = np.empty_like(x)
        if n:
            _one_pole_kernel(x, c, float(self.sample_rate), self.mode == "highpass", self._state, out)
        return out


# --------------------------------------------------------------------------- biquad


def rbj_coefficients(kind: str, freq_hz: float, q: float, gain_db: float,
                     sample_rate: int) -> np.ndarray:
    """Normalized RBJ Audio-EQ-Cookbook biquad as one SOS row ``[b0, b1, b2, 1, a1, a2]``.

    Formulas from R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter
    coefficients" (W3C Audio EQ Cookbook), with ``A = 10^(gain_db/40)`` and
    ``alpha = sin(w0) / (2 q)`` (the shelves use the same q, q = 0.7071 ~ shelf slope 1).
    """
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2.0 * q)
    a = 10.0 ** (gain_db / 40.0)
    if kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        den = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        den = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "bandpass":  # constant 0 dB peak gain
        b = [alpha, 0.0, -alpha]
        den = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "notch":
        b = [1.0, -2 * cw, 1.0]
        den = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "allpass":
        b = [1 - alpha, -2 * cw, 1 + alpha]
        den = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "peak":
        b = [1 + alpha * a, -2 * cw, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cw, 1 - alpha / a]
    elif kind == "lowshelf":
        r = 2 * math.sqrt(a) * alpha
        b = [a * ((a + 1) - (a - 1) * cw + r), 2 * a * ((a - 1) - (a + 1) * cw),
             a * ((a + 1) - (a - 1) * cw - r)]
        den = [(a + 1) + (a - 1) * cw + r, -2 * ((a - 1) + (a + 1) * cw), (a + 1) + (a - 1) * cw - r]
    elif kind == "highshelf":
        r = 2 * math.sqrt(a) * alpha
        b = [a * ((a + 1) + (a - 1) * cw + r), -2 * a * ((a - 1) + (a + 1) * cw),
             a * ((a + 1) + (a - 1) * cw - r)]
        den = [(a + 1) - (a - 1) * cw + r, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - r]
    else:  # pragma: no cover - validated before
        raise ParameterError(f"kind must be one of {', '.join(BIQUAD_KINDS)}; got {kind!r}")
    a0 = den[0]
    return np.array([[b[0] / a0, b[1] / a0, b[2] / a0, 1.0, den[1] / a0, den[2] / a0]])


class Biquad(_Settable):
    """RBJ Audio-EQ-Cookbook biquad (12 dB/oct slopes, 0 dB band-pass peak), static coefficients.

    Runs through ``scipy.signal.sosfilt`` with the filter state ``zi`` carried between
    calls; ``set()`` recomputes the coefficients and keeps the state.

    Parameters
    ----------
    sample_rate : int, 8000..384000
    channels : int >= 1
    kind : {"lowpass", "highpass", "bandpass", "notch", "peak", "lowshelf", "highshelf", "allpass"}
    freq_hz : float, 0 < freq_hz < sample_rate / 2
        Cutoff (-3 dB for q = 0.7071 pass filters), centre or shelf midpoint frequency.
    q : float, 0.01..100
    gain_db : float, -48..48; used by peak and shelves only.

    Examples
    --------
    >>> f = Biquad(48000, channels=1, kind="peak", freq_hz=1000.0, q=1.0, gain_db=6.0)
    >>> round(float(20 * np.log10(abs(f.response(np.array([1000.0]))[0]))), 6)
    6.0
    """

    _params = ("kind", "freq_hz", "q", "gain_db")

    def __init__(self, sample_rate: int, *, channels: int, kind: str = "lowpass",
                 freq_hz: float = 1000.0, q: float = 0.7071, gain_db: float = 0.0) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = _check_channels(channels)
        self.set(kind=kind, freq_hz=freq_hz, q=q, gain_db=gain_db)
        self.reset()

    def _validate(self, name, value):
        if name == "kind":
            return _check_choice("kind", value, BIQUAD_KINDS)
        if name == "freq_hz":
            return check_range("freq_hz", value, 0.0, self.sample_rate / 2, low_open=True, high_open=True)
        if name == "q":
            return check_range("q", value, 0.01, 100.0)
        return check_range("gain_db", value, -48.0, 48.0)

    def _update(self) -> None:
        self._sos = rbj_coefficients(self.kind, self.freq_hz, self.q, self.gain_db, self.sample_rate)

    def reset(self) -> None:
        """Clear the transposed-direct-form-II state of every channel."""
        self._zi = np.zeros((1, self.channels, 2))

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` (channels, n) -> (channels, n) float64.

        Raises
        ------
        ParameterError
            If ``x`` does not have shape (channels, n).
        """
        x = _check_input(x, self.channels)
        if x.shape[1] == 0:
            return x.copy()
        y = sos_cascade(self._sos, x, self._zi)  # = scipy.signal.sosfilt, bit for bit; zi in place
        # Flush subnormal state (sosfilt cannot): keeps decays out of slow paths.
        self._zi[np.abs(self._zi) < DENORMAL_FLOOR] = 0.0
        return y

    def response(self, freqs_hz: np.ndarray) -> np.ndarray:
        """Complex frequency response ``H(exp(j 2 pi f / fs))`` of the current coefficients.

        Returns
        -------
        ndarray, complex128, same shape as ``freqs_hz``.
        """
        f = np.asarray(freqs_hz, dtype=np.float64)
        z1 = np.exp(-2j * np.pi * f / self.sample_rate)  # z^-1
        b0, b1, b2, _, a1, a2 = self._sos[0]
        return (b0 + z1 * (b1 + z1 * b2)) / (1.0 + z1 * (a1 + z1 * a2))

