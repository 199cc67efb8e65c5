"""Linear filters as plain functions: a biquad cascade and a windowed-sinc FIR design.

``sos_cascade`` equals ``scipy.signal.sosfilt`` bit for bit without its per-call overhead
(and can flush subnormal state); ``firwin_kaiser`` equals ``scipy.signal.firwin`` with a
Kaiser window bit for bit without importing ``scipy.signal`` (~1 s of CPU at start-up).
The loudness meter (K-weighting), the master chain's DC blocker, ``Biquad`` and the
oversampling FIRs use them.
"""

from __future__ import annotations

import numba
import numpy as np

from symphony.errors import ParameterError

#: Samples between the state flushes of :func:`_sos_cascade_kernel` (when ``floor > 0``).
_FLUSH_EVERY = 64


@numba.njit(cache=True)
def _sos_cascade_kernel(sos, x, gain, floor, zi, y):  # pragma: no cover - compiled
    """Biquad cascade in transposed direct form II over ``(channels, n)``, state in place.

    Per sample and section (``sos`` rows ``[b0, b1, b2, 1, a1, a2]``)::

        y  = b0 u + z0
        z0 = (b1 u - a1 y) + z1
        z1 = b2 u - a2 y

    with ``u = gain * x`` entering the first section. These are the operations of
    ``scipy.signal.sosfilt`` in the same order (no fused multiply-add), so with
    ``floor == 0`` the output equals scipy's bit for bit, without its per-call reshaping
    and copies. ``floor > 0`` flushes state values whose magnitude is below it to zero
    every ``_FLUSH_EVERY`` samples: a decay then ends in exact zeros instead of a subnormal
    limit cycle (+-5e-324 forever, on which every operation is ~30x slower); the output
    moves by about ``floor`` at most. ``zi`` is ``(sections, channels, 2)`` as in scipy;
    ``y`` may be ``x``.
    """
    n_ch = x.shape[0]
    n = x.shape[1]
    for s in range(sos.shape[0]):
        # one section at a time over the block (the same arithmetic as sample by sample),
        # two channels side by side so their independent recursions overlap in the CPU
        b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
        g = gain if s == 0 else 1.0
        src = x if s == 0 else y
        for c in range(0, n_ch - 1, 2):
            p0, p1 = zi[s, c, 0], zi[s, c, 1]
            q0, q1 = zi[s, c + 1, 0], zi[s, c + 1, 1]
            for i0 in range(0, n, _FLUSH_EVERY):
                for i in range(i0, min(i0 + _FLUSH_EVERY, n)):
                    u = src[c, i] * g  # exact when g == 1
                    w = src[c + 1, i] * g
                    v = b0 * u + p0
                    r = b0 * w + q0
                    p0 = b1 * u - a1 * v + p1
                    q0 = b1 * w - a1 * r + q1
                    p1 = b2 * u - a2 * v
                    q1 = b2 * w - a2 * r
                    y[c, i] = v
                    y[c + 1, i] = r
                if abs(p0) < floor:
                    p0 = 0.0
                if abs(p1) < floor:
                    p1 = 0.0
                if abs(q0) < floor:
                    q0 = 0.0
                if abs(q1) < floor:
                    q1 = 0.0
            zi[s, c, 0], zi[s, c, 1] = p0, p1
            zi[s, c + 1, 0], zi[s, c + 1, 1] = q0, q1
        if n_ch % 2:
            c = n_ch - 1
            p0, p1 = zi[s, c, 0], zi[s, c, 1]
            for i0 in range(0, n, _FLUSH_EVERY):
                for i in range(i0, min(i0 + _FLUSH_EVERY, n)):
                    u = src[c, i] * g
                    v = b0 * u + p0
                    p0 = b1 * u - a1 * v + p1
                    p1 = b2 * u - a2 * v
                    y[c, i] = v
                if abs(p0) < floor:
                    p0 = 0.0
                if abs(p1) < floor:
                    p1 = 0.0
            zi[s, c, 0], zi[s, c, 1] = p0, p1


def sos_cascade(sos: np.ndarray, x: np.ndarray, zi: np.ndarray, *, gain: float = 1.0,
                floor: float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
    """Filter ``gain * x`` ``(channels, n)`` through second-order sections; ``zi`` updated in place.

    With ``floor == 0`` the same result as
    ``y, zi[...] = scipy.signal.sosfilt(sos, gain * x, axis=-1, zi=zi)``, bit for bit
    (see :func:`_sos_cascade_kernel`), at a fraction of its per-call cost.

    Parameters
    ----------
    sos : ndarray, shape (sections, 6), float64
        ``[b0, b1, b2, 1, a1, a2]`` rows (``a0`` normalized to 1).
    x : ndarray, shape (channels, n), float64
    zi : ndarray, shape (sections, channels, 2), float64
        Filter state, carried between calls (modified in place).
    gain : float
        Linear factor applied to ``x`` before the first section.
    floor : float >= 0
        States smaller than this in magnitude are flushed to zero every ``_FLUSH_EVERY``
        samples (``DENORMAL_FLOOR`` keeps decays out of the subnormal slow path); 0 = exact
        scipy.
    out : ndarray, shape (channels, n), optional
        Where to write (may be ``x`` itself); a new array by default.

    Returns
    -------
    ndarray, shape (channels, n)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or zi.shape != (sos.shape[0], x.shape[0], 2):
        raise ParameterError(f"sos_cascade: x must be (channels, n) and zi (sections, channels, 2); "
                             f"got x {x.shape}, zi {zi.shape}, sos {sos.shape}")
    y = np.empty(x.shape) if out is None else out
    _sos_cascade_kernel(sos, x, float(gain), float(floor), zi, y)
    return y


def firwin_kaiser(numtaps: int, cutoff: float, beta: float) -> np.ndarray:
    """Windowed-sinc FIR low-pass with a Kaiser window, normalized to unit gain at DC.

    ``h[m] = c sinc(c (m - (N - 1) / 2)) w[m] / sum(...)`` with ``c`` the cutoff as a fraction
    of Nyquist (the window method; Oppenheim & Schafer, "Discrete-Time Signal Processing",
    sec. 7.5). The operations and their order are those of
    ``scipy.signal.firwin(numtaps, cutoff, window=("kaiser", beta))``, so the taps equal
    scipy's bit for bit (tested) without importing ``scipy.signal`` (~1 s of CPU at start-up).
    """
    m = np.arange(numtaps) - 0.5 * (numtaps - 1)
    h = cutoff * np.sinc(cutoff * m)
    h *= np.kaiser(numtaps, beta)
    return h / np.sum(h)
