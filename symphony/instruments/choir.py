"""The machine choir: additive voices whose harmonics follow a vowel's formant envelope.

Model (source-filter, evaluated in the frequency domain): each singer is a harmonic
series up to 64 partials (and below ``min(0.45 * sample_rate, 6 kHz)`` at the top of its
vibrato swing, so it cannot alias) with a glottal-source tilt, and each partial's amplitude
is the vowel's formant envelope evaluated at that partial's instantaneous frequency
(Rodet, Potard & Barriere, "The CHANT project: from the synthesis of the singing voice to
synthesis in general", CMJ 8(3), 1984 -- the frequency-domain view of FOF synthesis).

The envelope is the sum of five constant-peak band-pass resonances,
``E(f) = sum_i g_i / sqrt(1 + ((f^2 - F_i^2) / (f B_i))^2)`` (the magnitude of
``B s / (s^2 + B s + w_i^2)``, exactly ``g_i`` at ``F_i``, -3 dB ``B_i`` apart), with the
centre frequencies, gains and bandwidths of the classic choir table (Csound Manual,
Appendix "Formant values", after the IRCAM CHANT data: soprano, alto, tenor and bass for
the vowels a, e, i, o, u). The register follows the sung pitch (bass below D3, tenor below
C4, alto below G4, soprano above). Bandwidths are doubled: the table's are those of a
single FOF, and a choir's averaged spectrum is smoother.

Each note is sung by ``singers`` voices, detuned over +-7 cents with seeded jitter, each
with its own vibrato rate/phase and slow pitch drift, spread in stereo. The vowel morphs
linearly from ``vowel`` to ``vowel_morph_to`` over ``morph_ms`` after the note start
(frequencies, bandwidths and gains in dB interpolated). Breath is deterministic
counter-hash noise (a function of the note's seed and frame, so block splits and skipped
silences cannot change it) through the first three formants.

Everything time-varying is evaluated on a 64-frame grid counted from each note's start and
is a function of that count only, so the output does not depend on the block split.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from symphony.dsp.base import midi_to_hz
from symphony.dsp.envelopes import AdsrEnvelope
from symphony.instruments import register
from symphony.instruments.poly import MIN_ATTACK_MS, MIN_RELEASE_MS, PolyInstrument, equal_power_pan
from symphony.params import Param

__all__ = ["MachineChoir", "FORMANTS", "VOWELS", "REGISTERS", "formant_envelope", "register_of"]

VOWELS = ("a", "e", "i", "o", "u")
REGISTERS = ("bass", "tenor", "alto", "soprano")

#: Csound Manual, Appendix "Formant values" (IRCAM CHANT): per register and vowel the five
#: formants' (frequencies Hz, gains dB, bandwidths Hz).
FORMANTS: dict[str, dict[str, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]]] = {
    "bass": {
        "a": ((600, 1040, 2250, 2450, 2750), (0, -7, -9, -9, -20), (60, 70, 110, 120, 130)),
        "e": ((400, 1620, 2400, 2800, 3100), (0, -12, -9, -12, -18), (40, 80, 100, 120, 120)),
        "i": ((250, 1750, 2600, 3050, 3340), (0, -30, -16, -22, -28), (60, 90, 100, 120, 120)),
        "o": ((400, 750, 2400, 2600, 2900), (0, -11, -21, -20, -40), (40, 80, 100, 120, 120)),
        "u": ((350, 600, 2400, 2675, 2950), (0, -20, -32, -28, -36), (40, 80, 100, 120, 120)),
    },
    "tenor": {
        "a": ((650, 1080, 2650, 2900, 3250), (0, -6, -7, -8, -22), (80, 90, 120, 130, 140)),
        "e": ((400, 1700, 2600, 3200, 3580), (0, -14, -12, -14, -20), (70, 80, 100, 120, 120)),
        "i": ((290, 1870, 2800, 3250, 3540), (0, -15, -18, -20, -30), (40, 90, 100, 120, 120)),
        "o": ((400, 800, 2600, 2800, 3000), (0, -10, -12, -12, -26), (40, 80, 100, 120, 120)),
        "u": ((350, 600, 2700, 2900, 3300), (0, -20, -17, -14, -26), (40, 60, 100, 120, 120)),
    },
    "alto": {
        "a": ((800, 1150, 2800, 3500, 4950), (0, -4, -20, -36, -60), (80, 90, 120, 130, 140)),
        "e": ((400, 1600, 2700, 3300, 4950), (0, -24, -30, -35, -60), (60, 80, 120, 150, 200)),
        "i": ((350, 1700, 2700, 3700, 4950), (0, -20, -30, -36, -60), (50, 100, 120, 150, 200)),
        "o": ((450, 800, 2830, 3500, 4950), (0, -9, -16, -28, -55), (70, 80, 100, 130, 135)),
        "u": ((325, 700, 2530, 3500, 4950), (0, -12, -30, -40, -64), (50, 60, 170, 180, 200)),
    },
    "soprano": {
        "a": ((800, 1150, 2900, 3900, 4950), (0, -6, -32, -20, -50), (80, 90, 120, 130, 140)),
        "e": ((350, 2000, 2800, 3600, 4950), (0, -20, -15, -40, -56), (60, 100, 120, 150, 200)),
        "i": ((270, 2140, 2950, 3900, 4950), (0, -12, -26, -26, -44), (60, 90, 100, 120, 120)),
        "o": ((450, 800, 2830, 3800, 4950), (0, -11, -22, -22, -50), (70, 80, 100, 130, 135)),
        "u": ((325, 700, 2700, 3800, 4950), (0, -16, -35, -40, -60), (50, 60, 170, 180, 200)),
    },
}
#: (register, vowel, {0: freq, 1: gain dB, 2: bandwidth}, formant) as an array.
_TABLE = np.array([[np.array(FORMANTS[r][v], dtype=np.float64) for v in VOWELS] for r in REGISTERS])
_BANDWIDTH_SCALE = 2.0
#: Breath formants are wider still (turbulent source, open glottis).
_BREATH_BANDWIDTH_SCALE = 3.0

_CTL = 64          # control grid, frames
_K_MAX = 64        # most partials per singer
_F_TOP_HZ = 6000.0  # no partial above this (the table's last formant is at 4950 Hz)
_SPREAD_CENTS = 7.0
_JITTER_CENTS = 1.5
_DRIFT_CENTS = 2.0
_VIB_RATE_HZ = 5.0
_VIB_FADE_S = 0.6
_PAN_SPREAD = 0.7
_LN2_OVER_1200 = math.log(2.0) / 1200.0


def register_of(pitch: float) -> int:
    """Index into :data:`REGISTERS` of the choir section that sings ``pitch`` (MIDI).

    Examples
    --------
    >>> [REGISTERS[register_of(p)] for p in (45, 55, 62, 72)]
    ['bass', 'tenor', 'alto', 'soprano']
    """
    return int(np.searchsorted([50.0, 60.0, 67.0], pitch, side="right"))


def formant_envelope(freq_hz: np.ndarray, centres_hz: np.ndarray, gains: np.ndarray,
                     bandwidths_hz: np.ndarray) -> np.ndarray:
    """Sum of constant-peak resonances: ``sum_i g_i / sqrt(1 + ((f^2 - F_i^2) / (f B_i))^2)``.

    ``centres_hz``, ``gains`` (linear) and ``bandwidths_hz`` have a trailing formant axis
    that broadcasts against ``freq_hz[..., None]``; returns ``freq_hz``'s shape.

    Examples
    --------
    >>> float(formant_envelope(np.array(600.0), np.array([600.0]), np.array([0.5]), np.array([80.0])))
    0.5
    """
    f = np.maximum(np.asarray(freq_hz, dtype=np.float64), 1e-3)[..., None]
    q = (f * f - centres_hz * centres_hz) / (f * bandwidths_hz)
    return np.sum(gains / np.sqrt(1.0 + q * q), axis=-1)


@njit(cache=True, error_model="numpy")  # no zero-division checks: lets the partial loop vectorize
def _grid_kernel(slots, since, ctl, sample_rate, f0, n_harm, cents0, vib, drift, vib_cents, vib_fade_s,
                 table_a, table_b, morph_frames, bw_scale, tilt, mult, amps, form):  # pragma: no cover - jit
    """Fill the control grid of the active voices ``slots`` (row ``a`` = ``slots[a]``).

    Grid point ``c`` of row ``a`` is frame ``j = (since[a] // ctl + c) * ctl`` after the
    note start, ``t = j / sample_rate``:

    - ``mult[a, s, c] = 2 ** (cents / 1200)`` with ``cents = cents0 + vib_cents *
      min(t / vib_fade_s, 1) * sin(2 pi rate t + phase) + drift * sin(2 pi drift_rate t + drift_phase)``;
    - the formants ``table_a + min(j / morph_frames, 1) * (table_b - table_a)`` (frequency,
      dB gain, bandwidth; ``form[a, c]`` holds the first three as frequency, linear gain,
      bandwidth times ``bw_scale``);
    - ``amps[a, c, k]``: :func:`formant_envelope` (bandwidths times ``bw_scale``) at
      ``(k + 1) f0 mult[a, 0, c]`` times ``tilt[k]``, zero for ``k >= n_harm``, normalized
      to unit sum of squares.
    """
    n_singers = mult.shape[1]
    m = mult.shape[2]
    k_max = amps.shape[2]
    two_pi = 2.0 * math.pi
    ln2_1200 = math.log(2.0) / 1200.0
    cf = np.empty(5)
    gf = np.empty(5)
    bf = np.empty(5)
    for a in range(slots.shape[0]):
        v = slots[a]
        c0 = since[a] // ctl
        kk = n_harm[v]
        for c in range(m):
            j = (c0 + c) * ctl
            t = j / sample_rate
            fade = min(t / vib_fade_s, 1.0)
            for s in range(n_singers):
                cents = (cents0[v, s] + vib_cents * fade * math.sin(two_pi * vib[v, s, 0] * t + vib[v, s, 1])
                         + drift[v, s, 0] * math.sin(two_pi * drift[v, s, 1] * t + drift[v, s, 2]))
                mult[a, s, c] = math.exp(cents * ln2_1200)
            prog = min(j / morph_frames, 1.0)
            for f in range(5):
                cf[f] = table_a[a, 0, f] + prog * (table_b[a, 0, f] - table_a[a, 0, f])
                gf[f] = 10.0 ** ((table_a[a, 1, f] + prog * (table_b[a, 1, f] - table_a[a, 1, f])) / 20.0)
                bf[f] = bw_scale * (table_a[a, 2, f] + prog * (table_b[a, 2, f] - table_a[a, 2, f]))
            for f in range(3):
                form[a, c, 0, f] = cf[f]
                form[a, c, 1, f] = gf[f]
                form[a, c, 2, f] = bf[f]
            step = f0[v] * mult[a, 0, c]
            row = amps[a, c]
            for k in range(k_max):
                row[k] = 0.0
            # formant by formant over all partials (a loop the compiler vectorizes); each
            # partial still adds its five terms in formant order
            for f in range(5):
                cff = cf[f] * cf[f]
                bff = bf[f]
                gff = gf[f]
                for k in range(kk):
                    fk = (k + 1) * step
                    q = (fk * fk - cff) / (fk * bff)
                    row[k] += gff / math.sqrt(1.0 + q * q)
            power = 0.0
            for k in range(kk):
                e = row[k] * tilt[k]
                row[k] = e
                power += e * e
            scale = 1.0 / (math.sqrt(power) + 1e-300)
            for k in range(kk):
                row[k] *= scale


#: Reassociation only (no finite-math assumptions): lets LLVM vectorize the partial sums.
#: The result is still the same for every block split (one code path per sample).
_VECTOR_MATH = {"reassoc", "contract"}


@njit(cache=True, fastmath=_VECTOR_MATH)
def _clenshaw_step(b_far, b_near, m, ak, dk, fr, x2):  # pragma: no cover - jit
    """``b_far <- (ak + fr dk) + x2 b_near - b_far`` over the first ``m`` entries (one Clenshaw step)."""
    for e in range(m):
        b_far[e] = (ak + fr[e] * dk) + x2[e] * b_near[e] - b_far[e]


@njit(cache=True, fastmath=_VECTOR_MATH)
def _clenshaw_start(b_a, b_b, m, ak, dk, ak1, dk1, fr, x2):  # pragma: no cover - jit
    """The first two Clenshaw steps from ``b = 0``: ``b_a <- a_k``, ``b_b <- a_{k-1} + x2 b_a``."""
    for e in range(m):
        f = fr[e]
        far = ak + f * dk
        b_b[e] = (ak1 + f * dk1) + x2[e] * far
        b_a[e] = far


@njit(cache=True, fastmath=_VECTOR_MATH)
def _clenshaw_pair(b_a, b_b, m, ak, dk, ak1, dk1, fr, x2):  # pragma: no cover - jit
    """Two Clenshaw steps (partials ``k`` into ``b_a``, then ``k - 1`` into ``b_b``) in one pass.

    The same arithmetic as two :func:`_clenshaw_step` calls; one pass over the memory.
    """
    for e in range(m):
        f = fr[e]
        x = x2[e]
        near = b_b[e]
        far = (ak + f * dk) + x * near - b_a[e]
        b_b[e] = (ak1 + f * dk1) + x * far - near
        b_a[e] = far


@njit(cache=True, fastmath=_VECTOR_MATH)
def _choir_kernel(slots, since, ctl, n_harm, inc0, mult, amps, env, gain, pan, phase, rot,
                  out):  # pragma: no cover - jit
    """Add the singers of voices ``slots`` to the stereo ``out`` (2, n).

    Singer ``s`` of voice ``v`` at frame ``j`` (since its note start) sings
    ``sum_k a_k sin(2 pi (k+1) p)``, ``k < n_harm[v]``, with the amplitudes ``a_k``
    interpolated linearly between the grid points of ``amps``; ``p`` advances by
    ``inc0[v, s] * mult[a, s, c]`` (constant over grid cell ``c``).

    Per singer only the fundamental is a complex rotator ``z = exp(2 pi i p)`` (``rot[v, s]``
    = ``[Re z, Im z, Re w, Im w]`` with the cell's step ``w``), re-derived from the exact
    phase at every grid point (no drift). The harmonic sum is Clenshaw's recurrence for
    ``sin((k+1) t) = U_k(cos t) sin t`` (Chebyshev polynomials of the second kind):
    ``b_k = a_k + 2 cos(t) b_{k+1} - b_{k+2}``, sum ``= b_0 sin t`` (e.g. Press et al.,
    *Numerical Recipes*, 3rd ed., section 5.4.2). Each step runs over all frames of a grid
    cell and all singers at once (the amplitudes are linear within the cell), a long
    vectorized loop of two multiply-adds per partial and frame, where a rotator per
    partial needs a complex multiplication.
    """
    n = out.shape[1]
    n_s = inc0.shape[1]
    two_pi = 2.0 * math.pi
    inv_ctl = 1.0 / ctl
    size = ctl * n_s
    fr = np.empty(size)
    x2 = np.empty(size)
    sn = np.empty(size)
    b_a = np.empty(size)
    b_b = np.empty(size)
    zr = np.empty(n_s)
    zi = np.empty(n_s)
    wr = np.empty(n_s)
    wi = np.empty(n_s)
    ph = np.empty(n_s)
    inc = np.empty(n_s)
    for a in range(slots.shape[0]):
        v = slots[a]
        kk = n_harm[v]
        c0 = since[a] // ctl
        i = 0
        while i < n:
            j = since[a] + i
            cj = j // ctl
            c = cj - c0
            r = j - cj * ctl
            m = min(ctl - r, n - i)  # frames up to the next grid point
            size_m = m * n_s
            for s in range(n_s):
                step = inc0[v, s] * mult[a, s, c]
                inc[s] = step
                ph[s] = phase[v, s]
                if r == 0:  # grid point: exact fundamental and this cell's step
                    x = two_pi * ph[s]
                    zr[s], zi[s] = math.cos(x), math.sin(x)
                    wr[s], wi[s] = math.cos(two_pi * step), math.sin(two_pi * step)
                else:
                    zr[s], zi[s], wr[s], wi[s] = rot[v, s, 0], rot[v, s, 1], rot[v, s, 2], rot[v, s, 3]
            for t in range(m):  # the singers' rotators side by side (independent chains)
                for s in range(n_s):
                    e = t * n_s + s
                    r0 = zr[s]
                    i0 = zi[s]
                    x2[e] = 2.0 * r0
                    sn[e] = i0
                    zr[s] = r0 * wr[s] - i0 * wi[s]
                    zi[s] = r0 * wi[s] + i0 * wr[s]
                    p = ph[s] + inc[s]
                    ph[s] = p - math.floor(p)
            for s in range(n_s):
                rot[v, s, 0] = zr[s]
                rot[v, s, 1] = zi[s]
                rot[v, s, 2] = wr[s]
                rot[v, s, 3] = wi[s]
                phase[v, s] = ph[s]
            for t in range(m):
                f = (r + t) * inv_ctl
                for s in range(n_s):
                    fr[t * n_s + s] = f
            # Clenshaw from k = kk - 1 down to 0, two steps per pass (b_a, b_b alternate)
            k = kk - 1
            if k < 0:
                for e in range(size_m):
                    b_b[e] = 0.0
            elif k == 0:
                _clenshaw_start(b_a, b_b, size_m, 0.0, 0.0, amps[a, c, 0], amps[a, c + 1, 0] - amps[a, c, 0],
                                fr, x2)  # b_b <- a_0 (b_a, zero, unused)
            else:
                _clenshaw_start(b_a, b_b, size_m, amps[a, c, k], amps[a, c + 1, k] - amps[a, c, k],
                                amps[a, c, k - 1], amps[a, c + 1, k - 1] - amps[a, c, k - 1], fr, x2)
                k -= 2
                while k >= 1:
                    _clenshaw_pair(b_a, b_b, size_m, amps[a, c, k], amps[a, c + 1, k] - amps[a, c, k],
                                   amps[a, c, k - 1], amps[a, c + 1, k - 1] - amps[a, c, k - 1], fr, x2)
                    k -= 2
            if k == 0 and kk > 1:
                _clenshaw_step(b_a, b_b, size_m, amps[a, c, 0], amps[a, c + 1, 0] - amps[a, c, 0], fr, x2)
                res = b_a
            else:
                res = b_b
            for t in range(m):
                left = 0.0
                right = 0.0
                for s in range(n_s):
                    e = t * n_s + s
                    y = res[e] * sn[e]
                    left += pan[v, s, 0] * y
                    right += pan[v, s, 1] * y
                g = gain[v] * env[v, i + t]
                out[0, i + t] += g * left
                out[1, i + t] += g * right
            i += m


@njit(cache=True)
def _hash_noise(seed, j):  # pragma: no cover - jit
    """Uniform noise in [-1, 1) from the splitmix64 finalizer of ``seed + j * golden``."""
    z = np.uint64(seed) + np.uint64(j) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (2.0 / 9007199254740992.0) - 1.0


@njit(cache=True)
def _breath_kernel(slots, since, ctl, seed, g, k, fg, env, gain, state, out):  # pragma: no cover - jit
    """Hash noise of each voice through three TPT state-variable band-passes, added to ``out``.

    Band-pass per formant (Zavalishin, *The Art of VA Filter Design*, 2nd ed., ch. 4.4;
    Simper's solved form): ``g = tan(pi F / sr)``, ``k = B / F``; ``k * bp`` has unity
    peak gain at ``F``. ``g``, ``k`` and the formant gains ``fg`` are constant per grid
    cell, so the solved coefficients are computed once per cell.
    """
    n = out.shape[0]
    n_f = g.shape[2]
    a1 = np.empty(n_f)
    a2 = np.empty(n_f)
    a3 = np.empty(n_f)
    w = np.empty(n_f)
    for a in range(slots.shape[0]):
        v = slots[a]
        c0 = since[a] // ctl
        i = 0
        while i < n:
            j = since[a] + i
            cj = j // ctl
            c = cj - c0
            m = min((cj + 1) * ctl - j, n - i)  # frames up to the next grid point
            for f in range(n_f):
                gf = g[a, c, f]
                kf = k[a, c, f]
                a1[f] = 1.0 / (1.0 + gf * (gf + kf))
                a2[f] = gf * a1[f]
                a3[f] = gf * a2[f]
                w[f] = fg[a, c, f] * kf
            if n_f == 3:
                # the three formants' states in registers for the run (same arithmetic)
                p1, q1, p2, q2, p3, q3 = (state[v, 0, 0], state[v, 0, 1], state[v, 1, 0], state[v, 1, 1],
                                          state[v, 2, 0], state[v, 2, 1])
                b1, c1, d1, w1 = a1[0], a2[0], a3[0], w[0]
                b2, c2, d2, w2 = a1[1], a2[1], a3[1], w[1]
                b3, c3, d3, w3 = a1[2], a2[2], a3[2], w[2]
                gv = gain[v]
                for t in range(m):
                    x = _hash_noise(seed[v], j + t)
                    v3 = x - q1
                    v1 = b1 * p1 + c1 * v3
                    v2 = q1 + c1 * p1 + d1 * v3
                    p1 = 2.0 * v1 - p1
                    q1 = 2.0 * v2 - q1
                    y = 0.0 + w1 * v1
                    v3 = x - q2
                    v1 = b2 * p2 + c2 * v3
                    v2 = q2 + c2 * p2 + d2 * v3
                    p2 = 2.0 * v1 - p2
                    q2 = 2.0 * v2 - q2
                    y += w2 * v1
                    v3 = x - q3
                    v1 = b3 * p3 + c3 * v3
                    v2 = q3 + c3 * p3 + d3 * v3
                    p3 = 2.0 * v1 - p3
                    q3 = 2.0 * v2 - q3
                    y += w3 * v1
                    out[i + t] += gv * env[v, i + t] * y
                state[v, 0, 0], state[v, 0, 1], state[v, 1, 0], state[v, 1, 1] = p1, q1, p2, q2
                state[v, 2, 0], state[v, 2, 1] = p3, q3
            else:
                for t in range(m):
                    x = _hash_noise(seed[v], j + t)
                    y = 0.0
                    for f in range(n_f):
                        ic1 = state[v, f, 0]
                        ic2 = state[v, f, 1]
                        v3 = x - ic2
                        v1 = a1[f] * ic1 + a2[f] * v3
                        v2 = ic2 + a2[f] * ic1 + a3[f] * v3
                        state[v, f, 0] = 2.0 * v1 - ic1
                        state[v, f, 1] = 2.0 * v2 - ic2
                        y += w[f] * v1
                    out[i + t] += gain[v] * env[v, i + t] * y
            i += m


@register("machine_choir")
class MachineChoir(PolyInstrument):
    """Additive choir: per singer up to 64 harmonics shaped by a 5-formant vowel envelope.

    Per note: ``singers`` detuned voices (+-7 cents, jitter, own vibrato and drift, panned
    across the stereo field), the vowel of the pitch's register (bass/tenor/alto/soprano
    table) morphing to ``vowel_morph_to`` over ``morph_ms``, breath noise through the
    formants, an ADSR with sustain 1. Each grid point's partials are normalized to unit
    power, so a vowel morph does not change the loudness.
    """

    FAMILY = "choir"
    DEFAULT_VOICES = 16
    DOC = "Machine choir: additive voices with vowel formants (a e i o u), morphs, ensemble singers"
    DEMO = "<a2 e3 c4 a4>:1 <g2 d3 b3 g4>:2 <a2 e3 c#4 a4>:2"
    PARAMS = (
        Param("vowel", "a", choices=VOWELS, doc="sung vowel (Csound/CHANT formant table)"),
        Param("vowel_morph_to", "none", choices=VOWELS + ("none",), doc="vowel reached after morph_ms"),
        Param("morph_ms", 3000.0, 0.0, 20000.0, doc="duration of the vowel morph after the note start, ms"),
        Param("singers", 3.0, 1.0, 4.0, doc="detuned singers per note (rounded)"),
        Param("attack_ms", 250.0, 0.0, 5000.0, doc="amplitude attack, ms (at least 2 ms is used)"),
        Param("release_ms", 700.0, 0.0, 10000.0, doc="amplitude release, ms (at least 10 ms is used)"),
        Param("vibrato_cents", 15.0, 0.0, 60.0, doc="vibrato depth (faded in over 0.6 s), +- cents"),
        Param("breath", 0.1, 0.0, 1.0, doc="level of breath noise through the formants"),
        Param("brightness", 0.5, 0.0, 1.0, doc="source tilt: -14 dB/oct (0) .. -6 dB/oct (1)"),
    )

    #: Output scale: one full-velocity note peaks near 0.35.
    LEVEL = 0.19
    #: Breath RMS relative to the voiced RMS at ``breath = 1``, roughly.
    BREATH_LEVEL = 2.5

    def _build(self) -> None:
        p = self.params
        sr = self.sample_rate
        self._amp_env = AdsrEnvelope(sr, voices=self.voices, attack_ms=max(p["attack_ms"], MIN_ATTACK_MS),
                                     decay_ms=50.0, sustain=1.0,
                                     release_ms=max(p["release_ms"], MIN_RELEASE_MS))
        self._envs = [self._amp_env]
        self._singers = int(round(p["singers"]))
        self._vowel_a = VOWELS.index(p["vowel"])
        to = p["vowel_morph_to"]
        self._vowel_b = self._vowel_a if to == "none" else VOWELS.index(to)
        self._morph_frames = max(float(p["morph_ms"]) * 1e-3 * sr, 1.0)
        self._vib_cents = float(p["vibrato_cents"])
        # source tilt in dB per octave -> amplitude exponent of the harmonic number
        slope_db = -14.0 + 8.0 * float(p["brightness"])
        self._tilt = np.arange(1, _K_MAX + 1, dtype=np.float64) ** (slope_db / (20.0 * math.log10(2.0)))
        self._breath = self.BREATH_LEVEL * float(p["breath"]) * math.sqrt(sr / 44100.0)
        s = self._singers
        self._spread = np.linspace(-_SPREAD_CENTS, _SPREAD_CENTS, s) if s > 1 else np.zeros(1)
        pans = np.linspace(-_PAN_SPREAD, _PAN_SPREAD, s) if s > 1 else np.zeros(1)
        # (parity, singer, channel): odd slots mirror the spread; unison of s adds in power
        self._pan_table = np.stack([equal_power_pan(pans).T, equal_power_pan(-pans).T]) / math.sqrt(s)
        self._seed = int(self.rng.integers(0, 2 ** 63))

    def _reset_dsp(self) -> None:
        v, s = self.voices, self._singers
        self._jitter = np.random.default_rng(self._seed)
        self._f0 = np.full(v, 100.0)
        self._reg = np.zeros(v, dtype=np.int64)
        self._n_harm = np.zeros(v, dtype=np.int64)
        self._inc0 = np.zeros((v, s))
        self._cents0 = np.zeros((v, s))
        self._vib = np.zeros((v, s, 2))     # rate Hz, phase rad
        self._drift = np.zeros((v, s, 3))   # depth cents, rate Hz, phase rad
        self._gain = np.zeros(v)
        self._pan = np.zeros((v, s, 2))
        self._phase = np.zeros((v, s))
        self._rot = np.zeros((v, s, 4))     # fundamental rotator and its step (see _choir_kernel)
        self._noise_seed = np.zeros(v, dtype=np.uint64)
        self._breath_state = np.zeros((v, 3, 2))

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:
        s = self._singers
        rng = self._jitter
        # a fixed number of draws per note, whatever the settings use
        jitter = rng.normal(0.0, 1.0, 4)[:s] * _JITTER_CENTS * (s > 1)
        vib_rate = _VIB_RATE_HZ * (1.0 + 0.06 * rng.normal(0.0, 1.0, 4)[:s])
        vib_phase = rng.uniform(0.0, 2.0 * np.pi, 4)[:s]
        drift_rate = rng.uniform(0.1, 0.35, 4)[:s]
        drift_phase = rng.uniform(0.0, 2.0 * np.pi, 4)[:s]
        start_phase = rng.uniform(0.0, 1.0, 4)[:s]
        noise_seed = rng.integers(0, 2 ** 63)
        f0 = float(midi_to_hz(pitch))
        self._f0[slot] = f0
        self._reg[slot] = register_of(pitch)
        self._cents0[slot] = self._spread + jitter
        self._vib[slot, :, 0] = vib_rate
        self._vib[slot, :, 1] = vib_phase
        self._drift[slot, :, 0] = _DRIFT_CENTS * (s > 1)
        self._drift[slot, :, 1] = drift_rate
        self._drift[slot, :, 2] = drift_phase
        top_cents = float(np.max(np.abs(self._cents0[slot]))) + self._vib_cents + _DRIFT_CENTS * (s > 1)
        top = min(0.45 * self.sample_rate, _F_TOP_HZ) / (f0 * 2.0 ** (top_cents / 1200.0))
        self._n_harm[slot] = int(min(_K_MAX, max(0, math.floor(top))))
        self._inc0[slot] = f0 / self.sample_rate
        self._phase[slot] = start_phase
        self._pan[slot] = self._pan_table[slot & 1]
        self._gain[slot] = self.LEVEL * velocity
        self._noise_seed[slot] = np.uint64(noise_seed)
        self._breath_state[slot] = 0.0

    # --- the control grid ---------------------------------------------------------
    def _grid(self, active: np.ndarray, since: np.ndarray, n: int):
        """Control-grid values of the active voices (see :func:`_grid_kernel`)."""
        m = (n + _CTL - 2) // _CTL + 2
        a = active.size
        mult = np.empty((a, self._singers, m))
        amps = np.empty((a, m, _K_MAX))
        form = np.empty((a, m, 3, 3))
        reg = self._reg[active]
        _grid_kernel(active.astype(np.int64), since, _CTL, float(self.sample_rate), self._f0, self._n_harm,
                     self._cents0, self._vib, self._drift, self._vib_cents, _VIB_FADE_S,
                     _TABLE[reg, self._vowel_a], _TABLE[reg, self._vowel_b], self._morph_frames,
                     _BANDWIDTH_SCALE, self._tilt, mult, amps, form)
        return mult, amps, form

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, n))
        if not active.size:
            return out
        slots = active.astype(np.int64)
        since = self._frames_since_onset(active).astype(np.int64)
        mult, amps, form = self._grid(active, since, n)
        _choir_kernel(slots, since, _CTL, self._n_harm, self._inc0, mult, amps, envs[0], self._gain,
                      self._pan, self._phase, self._rot, out)
        if self._breath > 0.0:
            fc = np.minimum(form[:, :, 0], 0.45 * self.sample_rate)
            g = np.tan(np.pi * fc / self.sample_rate)
            k = form[:, :, 2] * _BREATH_BANDWIDTH_SCALE / fc
            breath = np.zeros(n)
            _breath_kernel(slots, since, _CTL, self._noise_seed, g, k, np.ascontiguousarray(form[:, :, 1]),
                           envs[0], self._gain * self._breath, self._breath_state, breath)
            out += breath * 0.7071
        return out
