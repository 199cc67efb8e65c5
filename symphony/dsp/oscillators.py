"""Band-limited oscillators, coloured noise and LFOs.

The audio oscillator is a mipmapped wavetable oscillator: for every waveform a bank of
single-cycle tables is built by additive synthesis (inverse FFT of the Fourier series),
each table holding only the harmonics that stay below Nyquist over its frequency range.
Per sample the phase is accumulated, two adjacent tables are chosen from the
instantaneous frequency and crossfaded, and each table is read with linear interpolation
of a 4096-point cycle. Measured alias level: see ``docs/dsp-measurements.md``.

References: Massie, "Wavetable sampling synthesis" (in Kahrs & Brandenburg, *Applications of
DSP to Audio and Acoustics*, 1998); Välimäki & Huovilainen, "Antialiasing oscillators in
subtractive synthesis", IEEE Signal Processing Magazine 24(2), 2007.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from symphony.dsp.base import Processor, check_range, check_sample_rate
from symphony.errors import ParameterError

#: Waveforms of :class:`BandlimitedOscillator`.
WAVEFORMS = ("sine", "saw", "square", "pulse", "triangle")
#: Shapes of :class:`Lfo`.
LFO_SHAPES = ("sine", "triangle", "saw", "square", "sample_hold")
#: Colours of :class:`NoiseSource`.
NOISE_COLORS = ("white", "pink", "brown")

#: Points per single-cycle table (a guard point is appended for interpolation).
TABLE_SIZE = 4096
#: Harmonics of the richest table; below ``sample_rate / 2 / MAX_HARMONICS`` Hz
#: (23.4 Hz at 48 kHz) the top of the spectrum is cut off instead of growing further.
MAX_HARMONICS = 1024
#: Tables per octave of fundamental frequency. Table ``j`` holds harmonics up to
#: ``floor(MAX_HARMONICS * 2**(-j / TABLES_PER_OCTAVE))``; at any frequency the two tables
#: in use are alias-free, and the highest harmonic present at full weight is at least
#: ``2**(-1/8) = 0.917`` of Nyquist.
TABLES_PER_OCTAVE = 8

PULSE_WIDTH_RANGE = (0.05, 0.95)


def _fourier_sine_coefficients(waveform: str, k: np.ndarray) -> np.ndarray:
    """Coefficients ``b_k`` of ``sum_k b_k sin(2 pi k phase)`` for each waveform.

    Saw rises from -1 to 1 over the cycle (jump at phase 0): ``b_k = -2 / (pi k)``.
    Square (+1 on the first half cycle): ``b_k = 4 / (pi k)`` for odd ``k``.
    Triangle (0 at phase 0, rising, peak 1 at 1/4): ``b_k = 8 (-1)^((k-1)/2) / (pi k)^2``
    for odd ``k``. Standard Fourier series, e.g. Oppenheim & Willsky, table 3.
    """
    kf = k.astype(np.float64)
    if waveform == "saw":
        return -2.0 / (np.pi * kf)
    odd = (k % 2) == 1
    if waveform == "square":
        return np.where(odd, 4.0 / (np.pi * kf), 0.0)
    if waveform == "triangle":
        sign = np.where(((k - 1) // 2) % 2 == 0, 1.0, -1.0)
        return np.where(odd, 8.0 * sign / (np.pi * kf) ** 2, 0.0)
    if waveform == "sine":
        return np.where(k == 1, 1.0, 0.0)
    raise ParameterError(f"waveform must be one of {', '.join(WAVEFORMS)}, got {waveform!r}")


def build_table_bank(waveform: str) -> tuple[np.ndarray, float]:
    """Mipmapped single-cycle tables of a band-limited waveform.

    Returns
    -------
    bank : ndarray, shape (n_tables + 1, TABLE_SIZE + 1), float64
        Row ``j`` is one cycle with harmonics ``k <= K_j``; the last row is silence (used
        above Nyquist). Column ``TABLE_SIZE`` repeats column 0 (interpolation guard).
    max_harmonics : float
        ``K_0``, the harmonic count of row 0 (sets the frequency -> row mapping).
    """
    k_max = 1 if waveform == "sine" else MAX_HARMONICS
    n_octaves = int(round(math.log2(k_max)))
    n_tables = n_octaves * TABLES_PER_OCTAVE + 1
    bank = np.zeros((n_tables + 1, TABLE_SIZE + 1))
    k_all = np.arange(TABLE_SIZE // 2 + 1)
    coeff = np.zeros(k_all.size)
    coeff[1:] = _fourier_sine_coefficients(waveform, k_all[1:])
    for j in range(n_tables):
        kj = int(math.floor(k_max * 2.0 ** (-j / TABLES_PER_OCTAVE) + 1e-9))
        spectrum = np.zeros(k_all.size, dtype=np.complex128)
        # rfft of sin(2 pi k m / N) is -i N / 2 at bin k
        spectrum[1:kj + 1] = -0.5j * TABLE_SIZE * coeff[1:kj + 1]
        bank[j, :TABLE_SIZE] = np.fft.irfft(spectrum, TABLE_SIZE)
    bank[:, TABLE_SIZE] = bank[:, 0]
    return bank, float(k_max)


@numba.njit(cache=True, inline="always")
def table_read(bank, i0, i1, w, phase, size):
    """Rows ``i0``/``i1`` of ``bank`` crossfaded by ``w``, each read at ``phase`` (cycles, [0, 1))
    with linear interpolation over ``size`` points (the row's guard point closes the cycle)."""
    x = phase * size
    j = int(x)
    if j >= size or j < 0:  # phase 1.0 after rounding (or garbage): stay inside the row
        j = size - 1 if j >= size else 0
    fr = x - j
    a0 = bank[i0, j]
    a = a0 + fr * (bank[i0, j + 1] - a0)
    b0 = bank[i1, j]
    b = b0 + fr * (bank[i1, j + 1] - b0)
    return a + w * (b - a)


@numba.njit(cache=True, inline="always")
def row_pair(af, t_offset, last_row):
    """Mipmap row pair for the frequency ``af`` >= 0 (Hz): ``(i0, lo, hi, inv_width)``.

    With ``t = T log2(af K_0 / nyquist)`` (``T`` tables per octave, folded into
    ``t_offset``) rows ``i0 = floor(t) + 1`` and ``i0 + 1`` are alias-free; ``[lo, hi)`` is
    the frequency band in which that pair stays in use and ``inv_width = 1 / (hi - lo)``
    maps ``af`` to the crossfade position ``(af - lo) * inv_width`` (0 at the band edges
    of the silent row and of the lowest band). Used by :func:`_wavetable_kernel` and by
    the instruments' fused voice kernels, so both choose rows identically.
    """
    t = TABLES_PER_OCTAVE * math.log2(af) + t_offset if af > 0.0 else -2.0
    if t < -1.0:
        return 0, 0.0, 2.0 ** ((-1.0 - t_offset) / TABLES_PER_OCTAVE), 0.0
    m = math.floor(t)
    i0 = int(m) + 1
    if i0 >= last_row:
        return last_row, 2.0 ** ((last_row - 1 - t_offset) / TABLES_PER_OCTAVE), math.inf, 0.0
    lo = 2.0 ** ((m - t_offset) / TABLES_PER_OCTAVE)
    hi = 2.0 ** ((m + 1.0 - t_offset) / TABLES_PER_OCTAVE)
    return i0, lo, hi, 1.0 / (hi - lo)


@numba.njit(cache=True, inline="always")
def wavetable_step(bank, t_offset, pulse, pw, f, inv_sample_rate, ph, i0, w, lo, hi, inv_width):
    """One sample of one oscillator voice: ``(y, ph, i0, w, lo, hi, inv_width)`` after the step.

    The per-sample body of :func:`_wavetable_kernel` (see there), inlined into it and into
    the instruments' fused voice kernels so that both compute the same samples. ``y`` is
    the waveform at the phase ``ph`` before it advances by ``f / sample_rate``; the other
    values are the voice's carried state (row pair, crossfade and its band).
    """
    last_row = bank.shape[0] - 1
    size = bank.shape[1] - 1
    af = abs(f)
    if af >= lo and af < hi:
        # same row pair: weight linear in f between the pair's band edges (as
        # continuous as the log mapping, and no log2 per sample under vibrato)
        w = (af - lo) * inv_width
    else:
        i0, lo, hi, inv_width = row_pair(af, t_offset, last_row)
        w = (af - lo) * inv_width
        if w < 0.0:
            w = 0.0
        elif w > 1.0:
            w = 1.0
    i1 = i0 + 1 if i0 < last_row else last_row
    # smoothstep crossfade: harmonics fade in/out with zero slope at both ends
    ws = w * w * (3.0 - 2.0 * w)
    y = table_read(bank, i0, i1, ws, ph, size)
    if pulse:
        # pulse = saw(phase - pw) - saw(phase): 2 - 2 pw on [0, pw), -2 pw after
        # (difference of two band-limited saws, so it stays band-limited under PWM).
        # Its mean is 0 at every width, as at an analog synth's AC-coupled output:
        # the square-wave mean 2 pw - 1 would be a DC offset (and PWM a thump).
        q = ph - pw
        if q < 0.0:
            q += 1.0
        y = table_read(bank, i0, i1, ws, q, size) - y
    # wrap by compare-and-subtract: keeps floor() out of the loop-carried chain
    ph += f * inv_sample_rate
    if ph >= 1.0:
        ph -= 1.0
        if ph >= 1.0:
            ph -= math.floor(ph)
    elif ph < 0.0:
        ph += 1.0
        if ph < 0.0:
            ph -= math.floor(ph)
        if ph >= 1.0:  # -tiny + 1.0 rounds to 1.0
            ph = 0.0
    return y, ph, i0, w, lo, hi, inv_width


@numba.njit(cache=True, error_model="numpy")
def _wavetable_kernel(freq_hz, pulse_width, pulse, bank, t_offset, inv_sample_rate,
                      phase, band, table_index, table_weight, out, active):
    """Phase accumulation + mipmap choice + crossfaded linear table lookup.

    Row choice: with ``t = T log2(|f| K_0 / nyquist)`` (``T`` tables per octave), a row
    ``j`` is alias-free while ``t <= j``; rows ``floor(t) + 1`` and ``floor(t) + 2`` are
    used, weighted ``1 - s`` and ``s`` with ``s = smoothstep(w)`` of the position ``w``
    in the pair's band, so the blend and its slope are continuous in ``f``.
    The row pair is recomputed only when the frequency leaves its band; inside the band
    the weight is linear in ``f`` (the alias-free argument only needs rows
    ``floor(t) + 1, floor(t) + 2`` and a continuous weight).
    """
    voices, n = freq_hz.shape
    for v in range(voices):
        if not active[v]:
            for k in range(n):
                out[v, k] = 0.0
            continue
        wavetable_voice(bank, t_offset, pulse, pulse_width[v], freq_hz[v], inv_sample_rate, v,
                        phase, band, table_index, table_weight, out[v])


@numba.njit(cache=True, inline="always")
def _is_constant(row):
    """True if every element of the 1-D ``row`` equals its first (an empty row is constant)."""
    for k in range(1, row.shape[0]):
        if row[k] != row[0]:
            return False
    return True


@numba.njit(cache=True, error_model="numpy")
def wavetable_voice(bank, t_offset, pulse, pulse_width, freq_hz, inv_sample_rate, v,
                    phase, band, table_index, table_weight, out):
    """Render voice ``v`` of an oscillator bank into ``out`` (n,): :func:`wavetable_step` per sample.

    ``freq_hz`` and ``pulse_width``: (n,) or (1,) (constant). The voice's state lives in
    ``phase``, ``band``, ``table_index``, ``table_weight`` (row ``v``) and is updated.
    While the frequency and pulse width stay constant over the call (no vibrato, no PWM:
    the common case) the row pair, crossfade and phase increment are the same at every
    sample, so after one full step the remaining samples run a short loop (table reads and
    the phase update only) that computes exactly what :func:`wavetable_step` would. A
    moving frequency that stays inside the band of the row pair chosen at the first sample
    (vibrato) gets a similar loop with the crossfade recomputed per sample.
    """
    n = out.shape[0]
    if n == 0:
        return
    ph = phase[v]
    i0 = table_index[v]
    w = table_weight[v]
    lo = band[v, 0]
    hi = band[v, 1]
    inv_width = band[v, 2]
    f_step = freq_hz.shape[0] > 1
    pw_step = pulse_width.shape[0] > 1
    f = freq_hz[0]
    inc = f * inv_sample_rate
    constant = ((not f_step or _is_constant(freq_hz)) and (not pulse or not pw_step or _is_constant(pulse_width))
                and 0.0 <= inc < 1.0)
    if constant:
        pw = pulse_width[0]
        out[0], ph, i0, w, lo, hi, inv_width = wavetable_step(
            bank, t_offset, pulse, pw, f, inv_sample_rate, ph, i0, w, lo, hi, inv_width)
        last_row = bank.shape[0] - 1
        size = bank.shape[1] - 1
        i1 = i0 + 1 if i0 < last_row else last_row
        ws = w * w * (3.0 - 2.0 * w)
        # the rest of wavetable_step with its branches decided: same row pair and weight,
        # and 0 <= ph + inc < 2, so one compare-and-subtract wraps the phase
        if pulse:
            for k in range(1, n):
                q = ph - pw
                if q < 0.0:
                    q += 1.0
                out[k] = table_read(bank, i0, i1, ws, q, size) - table_read(bank, i0, i1, ws, ph, size)
                ph += inc
                if ph >= 1.0:
                    ph -= 1.0
        else:
            for k in range(1, n):
                out[k] = table_read(bank, i0, i1, ws, ph, size)
                ph += inc
                if ph >= 1.0:
                    ph -= 1.0
    else:
        f_lo = f
        f_hi = f
        for k in range(1, freq_hz.shape[0]):
            f_lo = min(f_lo, freq_hz[k])
            f_hi = max(f_hi, freq_hz[k])
        pw = pulse_width[0] if pulse else 0.5
        out[0], ph, i0, w, lo, hi, inv_width = wavetable_step(
            bank, t_offset, pulse, pw, f, inv_sample_rate, ph, i0, w, lo, hi, inv_width)
        if f_lo >= lo and f_hi < hi and f_lo >= 0.0 and f_hi * inv_sample_rate < 1.0:
            # a moving frequency (vibrato) that stays inside the row pair's band: the rest
            # of wavetable_step with its branches decided (weight linear in f, one wrap)
            last_row = bank.shape[0] - 1
            size = bank.shape[1] - 1
            i1 = i0 + 1 if i0 < last_row else last_row
            for k in range(1, n):
                fk = freq_hz[k if f_step else 0]
                w = (fk - lo) * inv_width
                ws = w * w * (3.0 - 2.0 * w)
                y = table_read(bank, i0, i1, ws, ph, size)
                if pulse:
                    q = ph - pulse_width[k if pw_step else 0]
                    if q < 0.0:
                        q += 1.0
                    y = table_read(bank, i0, i1, ws, q, size) - y
                out[k] = y
                ph += fk * inv_sample_rate
                if ph >= 1.0:
                    ph -= 1.0
        else:
            for k in range(1, n):
                pw = pulse_width[k if pw_step else 0] if pulse else 0.5
                out[k], ph, i0, w, lo, hi, inv_width = wavetable_step(
                    bank, t_offset, pulse, pw, freq_hz[k if f_step else 0], inv_sample_rate,
                    ph, i0, w, lo, hi, inv_width)
    phase[v] = ph
    table_index[v] = i0
    table_weight[v] = w
    band[v, 0] = lo
    band[v, 1] = hi
    band[v, 2] = inv_width


class BandlimitedOscillator(Processor):
    """Band-limited oscillator bank (mipmapped wavetables), alias level below -50 dB.

    One oscillator per voice. Output sample ``k`` is the waveform at the phase reached
    before adding ``freq_hz[:, k] / sample_rate``, so a voice restarted with
    :meth:`reset_phase` starts exactly at that phase (sine, saw, square and triangle all
    start at 0).

    Parameters
    ----------
    sample_rate : int, in [8000, 384000]
    voices : int >= 1
    waveform : {"sine", "saw", "square", "pulse", "triangle"}
        ``saw`` rises from -1 to 1; ``square``/``pulse`` are high for phase in
        ``[0, pulse_width)`` and low after, a step of 2 with zero mean (high
        ``2 - 2 pulse_width``, low ``-2 pulse_width``; the square is +-1);
        ``triangle`` starts at 0 rising. Band-limited versions overshoot by the Gibbs
        amount (about 9 % for saw, square and pulse).

    Raises
    ------
    ParameterError
        For an unknown waveform or a bad voice count.

    Examples
    --------
    >>> osc = BandlimitedOscillator(48000, voices=2, waveform="saw")
    >>> osc.process(np.full((2, 4), 440.0)).shape
    (2, 4)
    """

    def __init__(self, sample_rate: int, *, voices: int, waveform: str = "saw") -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        if int(voices) != voices or voices < 1:
            raise ParameterError(f"voices must be an integer >= 1, got {voices!r}")
        self.voices = int(voices)
        self._all_active = np.ones(self.voices, dtype=np.bool_)
        self.waveform = ""
        self.set(waveform=waveform)
        self.reset()

    def set(self, *, waveform: str | None = None) -> None:
        """Change the waveform (keeps the phases).

        Raises
        ------
        ParameterError
            If ``waveform`` is not one of :data:`WAVEFORMS`.
        """
        if waveform is None:
            return
        if waveform not in WAVEFORMS:
            raise ParameterError(f"waveform must be one of {', '.join(WAVEFORMS)}, got {waveform!r}")
        self.waveform = waveform
        table = "saw" if waveform in ("square", "pulse") else waveform
        self._table = table  # which single-cycle table family the bank holds
        self._bank, k_max = build_table_bank(table)
        nyquist = self.sample_rate / 2.0
        self._t_offset = TABLES_PER_OCTAVE * (math.log2(k_max) - math.log2(nyquist))
        self._pulse = waveform in ("square", "pulse")
        if hasattr(self, "_band"):
            self._band[:] = 0.0  # force the row choice to be recomputed

    def reset(self) -> None:
        """All phases to 0."""
        self._phase = np.zeros(self.voices)
        # per voice: [lo, hi, 1 / (hi - lo)] of the frequency band of the current row pair
        # (empty band -> the first sample computes it)
        self._band = np.zeros((self.voices, 3))
        self._table_index = np.zeros(self.voices, dtype=np.int64)
        self._table_weight = np.zeros(self.voices)

    def reset_phase(self, voice: int, phase: float = 0.0) -> None:
        """Restart one voice at ``phase`` (in cycles, [0, 1)), e.g. at a note start."""
        if not 0 <= voice < self.voices:
            raise ParameterError(f"voice must be in [0, {self.voices - 1}], got {voice!r}")
        self._phase[voice] = float(phase) - math.floor(float(phase))

    def process(self, freq_hz: np.ndarray, *, pulse_width: float | np.ndarray = 0.5,
                active: np.ndarray | None = None) -> np.ndarray:
        """Render one block.

        Parameters
        ----------
        freq_hz : ndarray, shape (voices, n) or (n,), float, >= 0 (audio rate)
            Instantaneous frequency per sample. Frequencies at or above Nyquist give
            silence (the top table row fades out over the last 1/8 octave below Nyquist).
        pulse_width : float or ndarray (voices, n), in [0.05, 0.95]
            Duty cycle for ``"pulse"`` (audio rate for PWM); ``"square"`` ignores it (0.5).
        active : ndarray (voices,) of bool, optional
            Voices to render; the others output 0 and keep their phase (cost ~0). Lets an
            instrument skip silent voices.

        Returns
        -------
        ndarray, shape (voices, n), float64, about [-1.1, 1.1]

        Raises
        ------
        ParameterError
            For a wrong shape, non-finite frequencies or a pulse width outside [0.05, 0.95].
        """
        f = np.asarray(freq_hz, dtype=np.float64)
        if f.ndim == 1:
            f = np.broadcast_to(f, (self.voices, f.shape[0]))
        if f.ndim != 2 or f.shape[0] != self.voices:
            raise ParameterError(f"freq_hz must have shape ({self.voices}, n), got {np.shape(freq_hz)}")
        if not math.isfinite(float(np.sum(f))):
            raise ParameterError("freq_hz must be finite, got NaN or inf values")
        n = f.shape[1]
        out = np.empty((self.voices, n))
        if self.waveform == "pulse":
            pw = np.asarray(pulse_width, dtype=np.float64)
            if pw.size and (pw.min() < PULSE_WIDTH_RANGE[0] or pw.max() > PULSE_WIDTH_RANGE[1]
                            or not np.all(np.isfinite(pw))):
                raise ParameterError(
                    f"pulse_width must be in [0.05, 0.95], got values in [{pw.min()}, {pw.max()}]")
            pw = np.broadcast_to(pw, (self.voices, n))
        else:
            pw = np.broadcast_to(np.float64(0.5), (self.voices, n))
        if active is None:
            act = self._all_active
        else:
            act = np.asarray(active, dtype=np.bool_)
            if act.shape != (self.voices,):
                raise ParameterError(f"active must have shape ({self.voices},), got {act.shape}")
        _wavetable_kernel(f, pw, self._pulse, self._bank, self._t_offset, 1.0 / self.sample_rate,
                          self._phase, self._band, self._table_index, self._table_weight, out, act)
        return out


# --------------------------------------------------------------------------------------
# noise

# Pink-noise filter: 3 poles / 3 zeros approximating a -3 dB/octave slope within +-0.3 dB
# from about 10 Hz to 20 kHz at 44.1 kHz (J. O. Smith, "Spectral Audio Signal Processing",
# section "Example: Synthesis of 1/f Noise (Pink Noise)").
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])
#: Corner of the leaky integrator that makes brown noise (-6 dB/octave above it).
BROWN_CORNER_HZ = 20.0


class NoiseSource(Processor):
    """White, pink (-3 dB/oct) or brown (-6 dB/oct) noise, RMS 1/sqrt(3) like uniform white.

    White noise is uniform in [-1, 1). Samples are drawn time-major (``n x voices`` from
    the generator), so a block split gives the same stream. The generator is derived once
    from ``rng`` at construction; :meth:`reset` rewinds it, so ``reset()`` equals a fresh
    instance built from an ``rng`` in the same state.

    Parameters
    ----------
    sample_rate : int
    voices : int >= 1
    rng : numpy.random.Generator
    color : {"white", "pink", "brown"}
        Pink uses J. O. Smith's 3-pole filter (slope exact for 44.1/48 kHz; at 22.05 kHz
        its range shifts down an octave); brown is white through a one-pole leaky
        integrator with its corner at :data:`BROWN_CORNER_HZ`. Both are scaled to the
        RMS of the white source.

    Raises
    ------
    ParameterError
        For an unknown colour.

    Examples
    --------
    >>> noise = NoiseSource(48000, voices=2, rng=np.random.default_rng(1), color="pink")
    >>> noise.process(8).shape
    (2, 8)
    """

    def __init__(self, sample_rate: int, *, voices: int, rng: np.random.Generator,
                 color: str = "white") -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        if int(voices) != voices or voices < 1:
            raise ParameterError(f"voices must be an integer >= 1, got {voices!r}")
        if not isinstance(rng, np.random.Generator):
            raise ParameterError(f"rng must be a numpy.random.Generator, got {rng!r}")
        self.voices = int(voices)
        self._seed = int(rng.integers(0, 2**63 - 1))
        self.color = ""
        self.set(color=color)
        self.reset()

    def set(self, *, color: str | None = None) -> None:
        """Change the colour (filter state is kept only if the colour does not change)."""
        if color is None:
            return
        if color not in NOISE_COLORS:
            raise ParameterError(f"color must be one of {', '.join(NOISE_COLORS)}, got {color!r}")
        changed = color != self.color
        self.color = color
        if color == "pink":
            b, a = _PINK_B, _PINK_A
        elif color == "brown":
            pole = math.exp(-2.0 * math.pi * BROWN_CORNER_HZ / self.sample_rate)
            b, a = np.array([1.0]), np.array([1.0, -pole])
        else:
            b, a = np.array([1.0]), np.array([1.0])
        import scipy.signal  # lazy: importing scipy.signal costs ~0.9 s CPU at start-up

        # unit-variance input -> output variance = sum of squared impulse response
        impulse = np.zeros(1 << 16)
        impulse[0] = 1.0
        h = scipy.signal.lfilter(b, a, impulse)
        self._b = b / math.sqrt(float(np.sum(h * h)))
        self._a = a
        if changed and hasattr(self, "_zi"):
            self._zi = np.zeros((self.voices, max(len(self._a), len(self._b)) - 1))

    def reset(self) -> None:
        """Rewind the generator and clear the colouring filter."""
        self._rng = np.random.default_rng(self._seed)
        self._zi = np.zeros((self.voices, max(len(self._a), len(self._b)) - 1))

    def process(self, n: int) -> np.ndarray:
        """Draw ``n`` samples per voice.

        Returns
        -------
        ndarray, shape (voices, n), float64; white is in [-1, 1), RMS 0.577
        """
        n = int(n)
        white = self._rng.uniform(-1.0, 1.0, size=(n, self.voices)).T
        if self.color == "white":
            return np.ascontiguousarray(white)
        import scipy.signal  # lazy (see set)

        y, self._zi = scipy.signal.lfilter(self._b, self._a, white, axis=-1, zi=self._zi)
        return y


# --------------------------------------------------------------------------------------
# LFO


@numba.njit(cache=True)
def _phase_kernel(increment, phase, out):
    """``out[v, k]`` = phase before the step; then ``phase += increment`` wrapped to [0, 1)."""
    voices, n = out.shape
    for v in range(voices):
        ph = phase[v]
        for k in range(n):
            out[v, k] = ph
            ph += increment
            ph -= math.floor(ph)
        phase[v] = ph


class Lfo(Processor):
    """Low-frequency oscillator, output in [-depth, depth] (not band-limited).

    Shapes, all at phase ``p`` in cycles: ``sine`` = sin(2 pi p); ``triangle`` 0 at p=0,
    rising, +1 at 1/4; ``saw`` 0 at p=0 rising to +1, jumping to -1 at p=1/2; ``square``
    +1 on [0, 1/2), -1 after; ``sample_hold`` a new uniform value in [-1, 1] at the start
    and at each cycle start (needs ``rng``).

    Parameters
    ----------
    sample_rate : int
    voices : int >= 1
    rate_hz : float in [0, sample_rate / 2) (control rate; changing it keeps the phase)
    shape : {"sine", "triangle", "saw", "square", "sample_hold"}
    depth : float >= 0
    phase : float or array (voices,), initial phase in cycles
    rng : numpy.random.Generator, required for ``sample_hold``

    Raises
    ------
    ParameterError
        For an unknown shape, a rate out of range, or ``sample_hold`` without ``rng``.

    Examples
    --------
    >>> Lfo(48000, rate_hz=12000.0).process(3).round(6) + 0.0
    array([[0., 1., 0.]])
    """

    def __init__(self, sample_rate: int, *, voices: int = 1, rate_hz: float = 1.0,
                 shape: str = "sine", depth: float = 1.0, phase: float | np.ndarray = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        if int(voices) != voices or voices < 1:
            raise ParameterError(f"voices must be an integer >= 1, got {voices!r}")
        self.voices = int(voices)
        if shape == "sample_hold" and not isinstance(rng, np.random.Generator):
            raise ParameterError(f"shape 'sample_hold' needs rng=numpy.random.Generator, got {rng!r}")
        self._has_rng = isinstance(rng, np.random.Generator)
        self._seed = int(rng.integers(0, 2**63 - 1)) if self._has_rng else 0
        ph = np.broadcast_to(np.asarray(phase, dtype=np.float64), (self.voices,))
        if not np.all(np.isfinite(ph)):
            raise ParameterError(f"phase must be finite, got {phase!r}")
        self._initial_phase = ph - np.floor(ph)
        self.rate_hz, self.shape, self.depth = 1.0, "sine", 1.0
        self.set(rate_hz=rate_hz, shape=shape, depth=depth)
        self.reset()

    def set(self, *, rate_hz: float | None = None, shape: str | None = None,
            depth: float | None = None) -> None:
        """Change rate (Hz), shape or depth; the phase continues."""
        if rate_hz is not None:
            self.rate_hz = check_range("rate_hz", rate_hz, 0.0, self.sample_rate / 2.0, high_open=True)
        if shape is not None:
            if shape not in LFO_SHAPES:
                raise ParameterError(f"shape must be one of {', '.join(LFO_SHAPES)}, got {shape!r}")
            if shape == "sample_hold" and not self._has_rng:
                raise ParameterError(
                    f"shape 'sample_hold' needs rng= at construction, got shape={shape!r} without it")
            self.shape = shape
        if depth is not None:
            self.depth = check_range("depth", depth, 0.0, 1e6)

    def reset(self) -> None:
        """Phases back to the initial phase; sample & hold generator rewound."""
        self._phase = self._initial_phase.copy()
        self._rng = np.random.default_rng(self._seed)
        self._held = np.zeros(self.voices)
        self._started = False

    def process(self, n: int) -> np.ndarray:
        """Render ``n`` samples.

        Returns
        -------
        ndarray, shape (voices, n), float64, in [-depth, depth]
        """
        n = int(n)
        p = np.empty((self.voices, n))
        start_phase = self._phase.copy()
        _phase_kernel(self.rate_hz / self.sample_rate, self._phase, p)
        shape = self.shape
        if shape == "sine":
            y = np.sin(2.0 * np.pi * p)
        elif shape == "triangle":
            y = 4.0 * np.abs(((p + 0.75) % 1.0) - 0.5) - 1.0
        elif shape == "saw":
            y = 2.0 * ((p + 0.5) % 1.0) - 1.0
        elif shape == "square":
            y = np.where(p < 0.5, 1.0, -1.0)
        else:
            y = self._sample_hold(p, start_phase)
        if self.depth != 1.0:
            y *= self.depth
        return y

    def _sample_hold(self, p: np.ndarray, start_phase: np.ndarray) -> np.ndarray:
        n = p.shape[1]
        if n == 0:
            return p.copy()
        prev = np.concatenate([start_phase[:, None], p[:, :-1]], axis=1)
        wrap = p < prev
        if not self._started:
            wrap[:, 0] = True
            self._started = True
        # draw in time-major order so that block splits draw the same values
        t_idx, v_idx = np.nonzero(wrap.T)
        values = self._rng.uniform(-1.0, 1.0, size=t_idx.size)
        held = np.full((self.voices, n), np.nan)
        held[v_idx, t_idx] = values
        idx = np.where(np.isnan(held), -1, np.arange(n)[None, :])
        idx = np.maximum.accumulate(idx, axis=1)
        prev_held = self._held[:, None]
        out = np.where(idx >= 0, np.take_along_axis(held, np.maximum(idx, 0), axis=1), prev_held)
        self._held = out[:, -1].copy()
        return out
