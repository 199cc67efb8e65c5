"""Additive tonewheel / church organ: nine drawbar sines per key, tremulant, key click.

Model: the Hammond tonewheel organ's additive registration (Hammond Organ Company,
*Hammond Organ Owner's Manual*, drawbar registration; C. Roads, *The Computer Music
Tutorial*, MIT Press 1996, ch. 4 "Additive synthesis"): each key sums nine sines at
the drawbar footages 16', 5 1/3', 8', 4', 2 2/3', 2', 1 3/5', 1 1/3', 1', i.e. ratios
0.5, 1.5, 1, 2, 3, 4, 5, 6, 8 of the played pitch. A drawbar at setting ``d`` (1..8)
sounds at ``-3 (8 - d)`` dB; 0 is off. Partials above ``0.45 * sample_rate`` (at the top
of the tremulant's pitch swing) are dropped, so the organ never aliases.

All nine ratios are integer multiples of half the fundamental (harmonics 1, 3, 2, 4, 6,
8, 10, 12, 16 of ``f0 / 2``). Each sounding partial is a complex rotator turned once per
sample (its step turned in turn while the tremulant sweeps the pitch linearly over a
64-frame cell) and re-derived from the exact phase at every cell start, so a voice costs
a few multiplies per partial and sample.

The tremulant / rotary effect is a frame-clocked sine LFO (restarted with the poly
engine's frame clock): a pitch swing (Doppler of a rotating horn, up to 10 cents) and
amplitude dips up to -6 dB with the right channel a quarter cycle behind the left (so the
sound turns in the stereo field and a mono sum still trembles).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from symphony.dsp.base import midi_to_hz
from symphony.dsp.envelopes import AdsrEnvelope
from symphony.dsp.linear import sos_cascade
from symphony.instruments import register
from symphony.instruments.poly import MIN_ATTACK_MS, MIN_RELEASE_MS, PolyInstrument
from symphony.params import Param

__all__ = ["Organ", "DRAWBAR_RATIOS", "STOPS", "drawbar_gains"]

#: Frequency ratio of each drawbar (16', 5 1/3', 8', 4', 2 2/3', 2', 1 3/5', 1 1/3', 1').
DRAWBAR_RATIOS = np.array([0.5, 1.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0])
#: The same as harmonic numbers of half the fundamental.
_HALF_HARMONIC = np.rint(2.0 * DRAWBAR_RATIOS).astype(np.int64)

#: Registrations as drawbar settings 0..8 in footage order (Hammond notation "00 8400 000").
STOPS: dict[str, tuple[int, ...]] = {
    "principal": (0, 0, 8, 7, 0, 5, 0, 0, 3),   # 8' + 4' + 2' + 1': a diapason chorus
    "flute": (0, 0, 8, 4, 0, 0, 0, 0, 0),       # 8' + soft 4': stopped flute
    "full": (8, 8, 8, 8, 8, 8, 8, 8, 8),        # every drawbar out
    "reed": (0, 0, 6, 8, 7, 6, 5, 4, 0),        # strong mid partials: a trumpet / reed colour
    "mixture": (0, 0, 8, 4, 8, 6, 0, 6, 8),     # 8' crowned by quint and octave ranks
}

#: Shortest attack / release used, ms. Longer than the poly engine's minimum: a near-sine
#: registration shows the slope kink of a 10 ms release (a soft tick at low pitches).
_MIN_ATTACK_MS = max(MIN_ATTACK_MS, 5.0)
_MIN_RELEASE_MS = max(MIN_RELEASE_MS, 30.0)
#: Tremulant depths at ``tremulant = 1``: pitch swing (cents) and amplitude dip (fraction).
_TREM_CENTS = 10.0
_TREM_DIP = 0.5
#: Key click: length (ms), pass band (Hz) of the filtered noise burst, bank size.
_CLICK_MS = 6.0
_CLICK_BAND_HZ = (1200.0, 5000.0)
#: ``scipy.signal.butter(2, [1200, min(5000, 0.4 fs)], "bandpass", fs=fs, output="sos")`` per
#: supported rate, as float.hex (bit-exact; tests/instruments/test_organ.py checks them against
#: scipy), so building an organ does not import scipy.signal (~0.9 s of CPU at start-up).
_CLICK_SOS_HEX = {
    22050: (("0x1.4ecc72cd6de46p-3", "0x1.4ecc72cd6de46p-2", "0x1.4ecc72cd6de46p-3", "0x1.0000000000000p+0", "-0x1.6a17abc8074e5p-2", "0x1.5cf9b9fa8eb56p-2"), ("0x1.0000000000000p+0", "-0x1.0000000000000p+1", "0x1.0000000000000p+0", "0x1.0000000000000p+0", "-0x1.8e0159c8a9589p+0", "0x1.5b2ef7eaff301p-1")),
    44100: (("0x1.ad575b2b4490ap-5", "0x1.ad575b2b4490ap-4", "0x1.ad575b2b4490ap-5", "0x1.0000000000000p+0", "-0x1.41f428290c220p+0", "0x1.1ec518a86c31ap-1"), ("0x1.0000000000000p+0", "-0x1.0000000000000p+1", "0x1.0000000000000p+0", "0x1.0000000000000p+0", "-0x1.cc1f21c399112p+0", "0x1.a9d6dc3b10b22p-1")),
    48000: (("0x1.7324282e504edp-5", "0x1.7324282e504edp-4", "0x1.7324282e504edp-5", "0x1.0000000000000p+0", "-0x1.538a84b516771p+0", "0x1.2c517a8ec5b0dp-1"), ("0x1.0000000000000p+0", "-0x1.0000000000000p+1", "0x1.0000000000000p+0", "0x1.0000000000000p+0", "-0x1.d0be91dbc1a41p+0", "0x1.b075ce12ec763p-1")),
    88200: (("0x1.f5c755bf8e277p-7", "0x1.f5c755bf8e277p-6", "0x1.f5c755bf8e277p-7", "0x1.0000000000000p+0", "-0x1.a94d0c78d7c74p+0", "0x1.7e6882e21ca14p-1"), ("0x1.0000000000000p+0", "-0x1.0000000000000p+1", "0x1.0000000000000p+0", "0x1.0000000000000p+0", "-0x1.e7703685e96d3p+0", "0x1.d37d9b2c01fe7p-1")),
    96000: (("0x1.ad623921b1a87p-7", "0x1.ad623921b1a87p-6", "0x1.ad623921b1a87p-7", "0x1.0000000000000p+0", "-0x1.b11753f496d55p+0", "0x1.878e88f0dbbf4p-1"), ("0x1.0000000000000p+0", "-0x1.0000000000000p+1", "0x1.0000000000000p+0", "0x1.0000000000000p+0", "-0x1.e989946d4046fp+0", "0x1.d6fbf70a8b7dep-1")),
}


def click_band_sos(sample_rate: int) -> np.ndarray:
    """Second-order sections of the key-click band-pass (2nd-order Butterworth) at ``sample_rate``."""
    rows = _CLICK_SOS_HEX.get(int(sample_rate))
    if rows is not None:
        return np.array([[float.fromhex(v) for v in row] for row in rows])
    import scipy.signal  # other rates: design it (importing scipy.signal costs ~0.9 s CPU)

    lo, hi = _CLICK_BAND_HZ[0], min(_CLICK_BAND_HZ[1], 0.4 * sample_rate)
    return scipy.signal.butter(2, [lo, hi], btype="bandpass", fs=sample_rate, output="sos")
_CLICK_BANK = 8


def drawbar_gains(settings: tuple[int, ...] | np.ndarray, brightness: float = 0.5) -> np.ndarray:
    """Linear gains of the nine drawbars: ``-3 dB`` per step below 8, tilted by ``brightness``.

    ``brightness`` 0.5 leaves the registration as set; 1 adds +6 dB per octave above the 8'
    (and takes 6 dB per octave off the 16'), 0 the opposite: gain ``*= ratio ** (2 b - 1)``.

    Examples
    --------
    >>> drawbar_gains((0, 0, 8, 7, 0, 0, 0, 0, 0)).round(3)[2:4]
    array([1.   , 0.708])
    """
    d = np.asarray(settings, dtype=np.float64)
    gains = np.where(d > 0, 10.0 ** (-3.0 * (8.0 - d) / 20.0), 0.0)
    return gains * DRAWBAR_RATIOS ** (2.0 * float(brightness) - 1.0)


#: Frames per control cell of the tremulant's pitch (cells are aligned to the frame clock).
_CTL = 64


@njit(cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def _organ_kernel(slots, frame0, ctl, inc, harm, weights, n_part, phase, fresh, mult, env, gain,
                  re, im, wr, wi, qr, qi, out):  # pragma: no cover - jit
    """Sum the sine-partial voices ``slots`` into the mono ``out`` (accumulating).

    Voice ``v`` at frame ``t = frame0 + i``: ``gain[v] env[v, i] sum_k weights[v, k]
    sin(2 pi harm[v, k] p)`` with integer ``harm`` (harmonics of ``f0 / 2``). The phase
    ``p`` (cycles of ``f0 / 2``) advances by ``inc[v] * m(t)`` with ``m`` linear over each
    cell from ``mult[c]`` to ``mult[c + 1]`` (``c = t // ctl - frame0 // ctl``): a
    continuous, piecewise-linear frequency.

    Only the fundamental ``exp(2 pi i p)`` is a complex rotator ``(re[v, 0], im[v, 0])``,
    turned by ``(wr[v, 0], wi[v, 0])``, which is itself turned by ``(qr[v, 0], qi[v, 0])``
    (a chirp); all three are re-derived from the exact phase at every cell start and at the
    voice's first sample (``fresh``). The partials are summed over each cell's frames at
    once by Clenshaw's recurrence, ``sin(h t) = U_{h-1}(cos t) sin t`` (Chebyshev
    polynomials of the second kind; see :func:`symphony.instruments.choir._choir_kernel`).
    """
    two_pi = 2.0 * math.pi
    n = out.shape[0]
    c0 = frame0 // ctl
    x2 = np.empty(ctl)
    sn = np.empty(ctl)
    b_a = np.empty(ctl)
    b_b = np.empty(ctl)
    top = 1
    for a in range(slots.shape[0]):
        v = slots[a]
        for k in range(n_part[v]):
            top = max(top, int(harm[v, k]))
    coef = np.zeros(top + 1)  # coef[h]: weight of harmonic h
    for a in range(slots.shape[0]):
        v = slots[a]
        kk = n_part[v]
        for h in range(top + 1):
            coef[h] = 0.0
        hmax = 0
        for k in range(kk):
            hk = int(harm[v, k])
            coef[hk] += weights[v, k]
            hmax = max(hmax, hk)
        g = gain[v]
        ev = env[v]
        zr, zi = re[v, 0], im[v, 0]
        ur, ui = wr[v, 0], wi[v, 0]
        sr_, si_ = qr[v, 0], qi[v, 0]
        i = 0
        while i < n:  # one run per control cell: its slope and step law are fixed
            t = frame0 + i
            cell = t // ctl
            r = t - cell * ctl
            run = min(ctl - r, n - i)
            c = cell - c0
            m0 = mult[c]
            slope = (mult[c + 1] - m0) / ctl
            chirp = slope != 0.0
            ph = phase[v]
            for j in range(run):
                step = inc[v] * (m0 + slope * (r + j))
                if (r + j == 0) or fresh[v]:
                    fresh[v] = False
                    x = two_pi * ph
                    d = two_pi * step
                    dd = two_pi * inc[v] * slope
                    zr, zi = math.cos(x), math.sin(x)
                    ur, ui = math.cos(d), math.sin(d)
                    sr_, si_ = math.cos(dd), math.sin(dd)
                x2[j] = 2.0 * zr
                sn[j] = zi
                zr, zi = zr * ur - zi * ui, zr * ui + zi * ur
                if chirp:
                    ur, ui = ur * sr_ - ui * si_, ur * si_ + ui * sr_
                p = ph + step
                ph = p - math.floor(p)
            phase[v] = ph
            # Clenshaw over harmonics hmax .. 1, two per pass: b_k = c_k + x2 b_{k+1} - b_{k+2}
            for j in range(run):
                b_a[j] = 0.0  # b_{h+2}, then the newest but one
                b_b[j] = 0.0  # b_{h+1}, then the newest
            h = hmax
            while h >= 2:
                ch = coef[h]
                cl = coef[h - 1]
                for j in range(run):
                    x = x2[j]
                    near = b_b[j]
                    mid = ch + x * near - b_a[j]
                    b_b[j] = cl + x * mid - near
                    b_a[j] = mid
                h -= 2
            if h == 1:
                ch = coef[1]
                for j in range(run):
                    bn = ch + x2[j] * b_b[j] - b_a[j]
                    b_a[j] = b_b[j]
                    b_b[j] = bn
            for j in range(run):
                out[i + j] += g * ev[i + j] * (b_b[j] * sn[j])
            i += run
        re[v, 0], im[v, 0] = zr, zi
        wr[v, 0], wi[v, 0] = ur, ui
        qr[v, 0], qi[v, 0] = sr_, si_


@register("organ")
class Organ(PolyInstrument):
    """Additive drawbar organ: nine sines per key at 0.5..8 x f0, -3 dB per drawbar step.

    Per note: the ``stops`` registration tilted by ``brightness``, partials above
    ``0.45 * sample_rate`` dropped, an ADSR with sustain 1 (organ keys do not decay), an
    optional key click (band-passed noise burst, 6 ms) and a shared tremulant LFO.
    """

    FAMILY = "organ"
    DEFAULT_VOICES = 16
    DOC = "Additive tonewheel / church organ: drawbar registrations, tremulant, key click"
    DEMO = "<c3 g3 c4 e4>:2 <b2 g3 d4>:2 <c3 g3 c4 e4 g4>:1"
    PARAMS = (
        Param("stops", "principal", choices=tuple(STOPS), doc="drawbar registration preset"),
        Param("brightness", 0.5, 0.0, 1.0, doc="drawbar tilt, +-6 dB/oct around the 8' (0.5 = as set)"),
        Param("tremulant", 0.0, 0.0, 1.0, doc="tremulant depth (10 cents and -6 dB at 1)"),
        Param("tremulant_hz", 6.0, 0.5, 8.0, doc="tremulant / rotor rate, Hz"),
        Param("attack_ms", 15.0, 0.0, 2000.0, doc="amplitude attack, ms (at least 5 ms is used)"),
        Param("release_ms", 120.0, 0.0, 5000.0, doc="amplitude release, ms (at least 30 ms is used)"),
        Param("key_click", 0.2, 0.0, 1.0, doc="level of the key-contact click at each note start"),
    )

    #: RMS of one full-velocity note: single notes peak 0.14 (flute) .. 0.26 (full); chords
    #: of an organ add coherently (a C's 4' is the next C's 8'), a 4-note "full" chord peaks < 0.9.
    LEVEL = 0.095

    def _build(self) -> None:
        p = self.params
        sr = self.sample_rate
        self._amp_env = AdsrEnvelope(sr, voices=self.voices, attack_ms=max(p["attack_ms"], _MIN_ATTACK_MS),
                                     decay_ms=50.0, sustain=1.0,
                                     release_ms=max(p["release_ms"], _MIN_RELEASE_MS))
        self._envs = [self._amp_env]
        gains = drawbar_gains(STOPS[p["stops"]], p["brightness"])
        # unit rms per registration: a flute's near-sine and a full organ's buzz sit at the
        # same loudness, and octave-coincident partials of a chord stay below full scale
        self._base_weights = gains / math.sqrt(0.5 * float(np.sum(gains * gains)))
        self._trem = float(p["tremulant"])
        self._trem_hz = float(p["tremulant_hz"])
        self._max_ratio = 2.0 ** (_TREM_CENTS * self._trem / 1200.0)
        # key clicks: a few band-passed noise bursts drawn once (reset() keeps them)
        self._click_level = 0.35 * float(p["key_click"])
        n_click = max(8, int(round(_CLICK_MS * 1e-3 * sr)))
        sos = click_band_sos(sr)
        noise = self.rng.standard_normal((_CLICK_BANK, n_click + 64))
        burst = sos_cascade(sos, noise, np.zeros((sos.shape[0], _CLICK_BANK, 2)))[:, 64:]  # = sosfilt
        t = np.arange(n_click) / sr
        shape = (1.0 - np.exp(-t / 2e-4)) * np.exp(-t / 1.2e-3) * np.hanning(2 * n_click)[n_click:]
        burst *= shape
        self._clicks = burst / np.abs(burst).max(axis=1, keepdims=True)
        self._click_n = n_click

    def _reset_dsp(self) -> None:
        v, k = self.voices, DRAWBAR_RATIOS.size
        self._phase = np.zeros(v)
        self._inc = np.zeros(v)
        self._fresh = np.zeros(v, dtype=np.bool_)
        self._harm = np.ones((v, k))
        self._weights = np.zeros((v, k))
        self._n_part = np.zeros(v, dtype=np.int64)
        self._rot = [np.zeros((v, k)) for _ in range(6)]  # z, its step w, the step's turn q
        self._gain = np.zeros(v)
        self._click_of = np.zeros(v, dtype=np.int64)
        self._notes = 0

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:
        f0 = float(midi_to_hz(pitch))
        half = 0.5 * f0
        limit = 0.45 * self.sample_rate / self._max_ratio
        keep = (self._base_weights > 0.0) & (_HALF_HARMONIC * half < limit)
        count = int(keep.sum())
        self._harm[slot, :count] = _HALF_HARMONIC[keep]
        self._weights[slot] = 0.0
        self._weights[slot, :count] = self._base_weights[keep]
        self._n_part[slot] = count
        self._inc[slot] = half / self.sample_rate
        # start at a zero crossing of every partial: the attack ramp then starts smoothly
        self._phase[slot] = 0.0
        self._fresh[slot] = True
        self._gain[slot] = self.LEVEL * velocity
        self._click_of[slot] = self._notes % _CLICK_BANK
        self._notes += 1

    def _lfo(self, n: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Tremulant: pitch ratio at the block's 64-frame cell starts (+1), left/right gains (n,)."""
        cells = (self._frame + n - 1) // _CTL - self._frame // _CTL + 2
        if self._trem <= 0.0:
            return np.ones(cells), None, None
        rad_per_frame = 2.0 * np.pi * self._trem_hz / self.sample_rate
        tc = (self._frame // _CTL + np.arange(cells)) * float(_CTL)
        mult = 2.0 ** ((_TREM_CENTS * self._trem / 1200.0) * np.cos(rad_per_frame * tc))
        phi = rad_per_frame * np.arange(self._frame, self._frame + n, dtype=np.float64)
        dip = _TREM_DIP * self._trem
        left = 1.0 - dip * (0.5 - 0.5 * np.sin(phi))
        right = 1.0 - dip * (0.5 - 0.5 * np.sin(phi - 0.5 * np.pi))
        return mult, left, right

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, n))
        if not active.size:
            return out
        mult, left, right = self._lfo(n)
        mono = np.zeros(n)
        _organ_kernel(active.astype(np.int64), self._frame, _CTL, self._inc, self._harm, self._weights,
                      self._n_part, self._phase, self._fresh, mult, envs[0], self._gain, *self._rot, mono)
        if left is not None:
            out[0] = mono * left
            out[1] = mono * right
        else:
            out[0] = mono
            out[1] = mono
        if self._click_level > 0.0:
            age = self._frames_since_onset(active)
            for slot, a in zip(active, age):
                if a < self._click_n:
                    m = min(n, self._click_n - int(a))
                    burst = self._clicks[self._click_of[slot], int(a):int(a) + m]
                    out[:, :m] += (self._click_level * self._gain[slot]) * burst
        return out
