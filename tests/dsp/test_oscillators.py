"""Oscillators, noise and LFOs: alias level, pitch, amplitude, kernel references, contract.

The alias measurement is defined here (``non_harmonic_db``) and documented in
docs/dsp-measurements.md; ``python -m tests.dsp.test_oscillators`` prints the figures.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
from scipy.signal.windows import blackmanharris

from symphony.dsp.oscillators import (
    MAX_HARMONICS,
    TABLE_SIZE,
    TABLES_PER_OCTAVE,
    WAVEFORMS,
    BandlimitedOscillator,
    Lfo,
    NoiseSource,
    _phase_kernel,
    _wavetable_kernel,
    build_table_bank,
)
from symphony.errors import ParameterError
from tests.conftest import SEED

SPLITS = [1, 64, 65, 512, 8193]


# --------------------------------------------------------------------------------------
# the alias metric


def exponential_sweep_hz(sample_rate: int, f_start: float = 100.0, f_end: float = 10000.0,
                         seconds: float = 4.0) -> np.ndarray:
    """Instantaneous frequency of an exponential sweep, one value per sample."""
    n = int(seconds * sample_rate)
    return f_start * (f_end / f_start) ** (np.arange(n) / n)


def oscillator_phase(freq_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Unwrapped phase (cycles) the oscillator reads at each sample (phase before the step)."""
    return np.concatenate([[0.0], np.cumsum(freq_hz / sample_rate)[:-1]])


def non_harmonic_db(y: np.ndarray, phase: np.ndarray, freq_hz: np.ndarray, sample_rate: int,
                    *, cycles: int = 16, iterations: int = 2) -> float:
    """Energy NOT at harmonics of the instantaneous fundamental, in dB re the total.

    Method: the analytic signal of ``y`` is cut into Blackman-Harris windows of about
    ``cycles`` periods (512..4096 samples, hop = window). In each window the harmonic
    model is ``sum_k (a_k + b_k tau) exp(2 pi i k phase(t))`` for ``k = 0 .. K`` with
    ``K = floor(nyquist / min f0 in the window)``: harmonics of the *known instantaneous*
    phase (so the chirp is exact) with amplitudes allowed to drift linearly (so a
    harmonic that fades in or out is harmonic, not alias). The model is fitted by
    weighted least squares (iterated projections; the basis is nearly orthogonal under
    the window) and the residual energy is the non-harmonic energy. Result: summed
    residual / summed total over all windows. Floor of the method: about -97 dB for an
    exactly harmonic chirp.
    """
    analytic = scipy.signal.hilbert(y)
    fs = sample_rate
    total = residual_total = 0.0
    edge = 4096  # skip the Hilbert edge effects
    s = edge
    windows: dict[int, tuple] = {}
    while True:
        n = int(np.clip(2 ** math.ceil(math.log2(cycles * fs / freq_hz[s])), 512, 4096))
        if s + n > len(y) - edge:
            break
        if n not in windows:
            w = blackmanharris(n)
            tau = (np.arange(n) - (n - 1) / 2) / n
            windows[n] = (w, tau, w.sum(), (w * tau * tau).sum())
        w, tau, sw, swt = windows[n]
        seg = analytic[s:s + n]
        ph = phase[s:s + n] - phase[s]
        k_max = int(fs / 2 / freq_hz[s:s + n].min())
        basis = np.empty((n, k_max + 1), dtype=np.complex128)
        basis[:, 0] = 1.0
        if k_max:
            z = np.exp(2j * np.pi * ph)
            basis[:, 1:] = np.cumprod(np.broadcast_to(z[:, None], (n, k_max)), axis=1)
        basis_h = basis.T.conj()
        r = seg.copy()
        for _ in range(iterations):
            a = basis_h @ (w * r) / sw
            b = basis_h @ (w * tau * r) / swt
            r -= basis @ a + tau * (basis @ b)
        total += float(np.sum(w * np.abs(seg) ** 2))
        residual_total += float(np.sum(w * np.abs(r) ** 2))
        s += n
    return 10.0 * math.log10(residual_total / total)


def naive_saw(phase: np.ndarray) -> np.ndarray:
    """Trivially sampled saw (aliases): the reference that must fail the metric."""
    return 2.0 * (phase % 1.0) - 1.0


def polyblep_saw(phase: np.ndarray, freq_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Two-point polyBLEP saw (Välimäki 2007), a second reference for the docs."""
    p = phase % 1.0
    dt = freq_hz / sample_rate
    y = 2.0 * p - 1.0
    lo = p < dt
    t = p[lo] / dt[lo]
    y[lo] -= t + t - t * t - 1.0
    hi = p > 1.0 - dt
    t = (p[hi] - 1.0) / dt[hi]
    y[hi] -= t * t + t + t + 1.0
    return y


def render_sweep(waveform: str, sample_rate: int = 48000, pulse_width: float = 0.25):
    f = exponential_sweep_hz(sample_rate)
    osc = BandlimitedOscillator(sample_rate, voices=1, waveform=waveform)
    y = osc.process(f[None, :], pulse_width=pulse_width)[0]
    return y, oscillator_phase(f, sample_rate), f


@pytest.mark.parametrize("waveform", ["saw", "square", "pulse", "triangle"])
def test_sweep_alias_at_least_50_db_below_total(waveform):
    y, phase, f = render_sweep(waveform)
    assert non_harmonic_db(y, phase, f, 48000) < -50.0


def test_alias_metric_flags_the_naive_saw():
    f = exponential_sweep_hz(48000)
    phase = oscillator_phase(f, 48000)
    level = non_harmonic_db(naive_saw(phase), phase, f, 48000)
    assert level > -20.0  # a naive saw measures about -13 dB


def test_alias_metric_floor_on_exact_harmonic_chirp():
    fs = 48000
    f = exponential_sweep_hz(fs, 100.0, 1000.0, seconds=1.5)
    phase = oscillator_phase(f, fs)
    # 20 harmonics stay below Nyquist up to 1.2 kHz: nothing here is alias
    y = sum(-2.0 / (np.pi * k) * np.sin(2 * np.pi * k * phase) for k in range(1, 21))
    assert non_harmonic_db(y, phase, f, fs) < -85.0


# --------------------------------------------------------------------------------------
# pitch and amplitude


def tone_amplitude(y: np.ndarray, freq_hz: float, sample_rate: int) -> float:
    """Amplitude of the component at exactly ``freq_hz`` (Blackman-Harris weighted DFT)."""
    w = blackmanharris(y.size)
    t = np.arange(y.size) / sample_rate
    return float(2.0 * abs(np.sum(w * y * np.exp(-2j * np.pi * freq_hz * t))) / w.sum())


def fft_peak_hz(y: np.ndarray, sample_rate: int, pad: int = 8) -> float:
    """Frequency of the largest spectral peak, Gaussian-interpolated between bins."""
    n = y.size * pad
    spec = np.abs(np.fft.rfft(y * blackmanharris(y.size), n))
    i = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[i - 1:i + 2])
    delta = 0.5 * (a - c) / (a - 2 * b + c)
    return (i + delta) * sample_rate / n


FUNDAMENTAL = {"sine": 1.0, "saw": 2 / np.pi, "square": 4 / np.pi, "pulse": 4 / np.pi,
               "triangle": 8 / np.pi**2}


@pytest.mark.parametrize("freq_hz", [55.0, 440.0, 1234.5, 4000.0])
@pytest.mark.parametrize("waveform", WAVEFORMS)
def test_fft_peak_at_the_set_frequency_and_fundamental_amplitude(sample_rate, waveform, freq_hz):
    n = sample_rate // 2
    osc = BandlimitedOscillator(sample_rate, voices=1, waveform=waveform)
    y = osc.process(np.full((1, n), freq_hz), pulse_width=0.5)[0]
    assert fft_peak_hz(y, sample_rate) == pytest.approx(freq_hz, abs=0.02)
    assert tone_amplitude(y, freq_hz, sample_rate) == pytest.approx(FUNDAMENTAL[waveform], rel=1e-3)


def test_saw_harmonic_amplitudes_follow_one_over_k():
    fs = 48000
    y = BandlimitedOscillator(fs, voices=1).process(np.full((1, fs), 200.0))[0]
    for k in (2, 3, 7, 20, 100):
        assert tone_amplitude(y, 200.0 * k, fs) == pytest.approx(2 / (np.pi * k), rel=2e-3)


def test_pulse_width_sets_duty_cycle_with_zero_mean():
    fs = 48000
    osc = BandlimitedOscillator(fs, voices=1, waveform="pulse")
    for pw in (0.1, 0.25, 0.8):
        osc.reset()
        y = osc.process(np.full((1, fs), 100.0), pulse_width=pw)[0]  # 100 whole cycles
        assert np.mean(y) == pytest.approx(0.0, abs=2e-3)  # zero mean: no DC at any width
        assert np.mean(y > 0) == pytest.approx(pw, abs=5e-3)
        high = np.median(y[y > 0])
        assert high == pytest.approx(2 - 2 * pw, abs=0.02)  # a step of 2 between the levels


def test_frequencies_at_or_above_nyquist_are_silent(sample_rate):
    for waveform in WAVEFORMS:
        osc = BandlimitedOscillator(sample_rate, voices=1, waveform=waveform)
        y = osc.process(np.full((1, 500), sample_rate / 2.0 * 1.001))
        np.testing.assert_allclose(y, 0.0, atol=1e-12)


def test_inactive_voices_are_silent_and_keep_their_phase():
    f = np.full((2, 300), 440.0)
    ref = BandlimitedOscillator(48000, voices=2).process(f)
    osc = BandlimitedOscillator(48000, voices=2)
    a = osc.process(f[:, :100])
    b = osc.process(f[:, :50], active=np.array([True, False]))
    c = osc.process(f[:, :150])
    np.testing.assert_array_equal(b[1], 0.0)
    np.testing.assert_array_equal(np.concatenate([a[0], b[0], c[0]]), ref[0])
    np.testing.assert_array_equal(np.concatenate([a[1], c[1]]), ref[1, :250])


def test_output_starts_at_zero_after_reset_phase():
    osc = BandlimitedOscillator(48000, voices=3, waveform="saw")
    osc.process(np.full((3, 100), 300.0))
    osc.reset_phase(1)
    y = osc.process(np.full((3, 2), 300.0))
    assert y[1, 0] == pytest.approx(0.0, abs=1e-12)
    assert y[0, 0] != pytest.approx(0.0, abs=1e-3)


# --------------------------------------------------------------------------------------
# kernel and tables against slow references


def test_table_rows_equal_direct_fourier_sums():
    m = np.arange(TABLE_SIZE) / TABLE_SIZE
    for waveform, coeff in [("saw", lambda k: -2 / (np.pi * k)),
                            ("triangle", lambda k: (k % 2) * 8 * (-1) ** ((k - 1) // 2) / (np.pi * k) ** 2)]:
        bank, k0 = build_table_bank(waveform)
        assert k0 == MAX_HARMONICS
        for row in (0, 17, 79, 80):
            kj = int(math.floor(MAX_HARMONICS * 2 ** (-row / TABLES_PER_OCTAVE) + 1e-9))
            direct = sum(coeff(k) * np.sin(2 * np.pi * k * m) for k in range(1, kj + 1))
            np.testing.assert_allclose(bank[row, :TABLE_SIZE], direct, atol=1e-12)
        np.testing.assert_array_equal(bank[-1], 0.0)
        np.testing.assert_array_equal(bank[:, -1], bank[:, 0])


def reference_wavetable(freq_hz, pulse_width, pulse, bank, t_offset, sample_rate):
    """Slow, obvious version of ``_wavetable_kernel`` (log2 mapping every sample)."""
    voices, n = freq_hz.shape
    last_row = bank.shape[0] - 1
    size = bank.shape[1] - 1
    out = np.zeros((voices, n))

    def read(row, ph):
        x = ph * size
        j = min(int(x), size - 1)
        return bank[row, j] + (x - j) * (bank[row, j + 1] - bank[row, j])

    for v in range(voices):
        ph = 0.0
        for k in range(n):
            f = abs(freq_hz[v, k])
            t = TABLES_PER_OCTAVE * math.log2(f) + t_offset if f > 0 else -2.0
            if t < -1:
                r0, w = 0, 0.0
            else:
                r0 = int(math.floor(t)) + 1
                lo = 2.0 ** ((math.floor(t) - t_offset) / TABLES_PER_OCTAVE)
                hi = 2.0 ** ((math.floor(t) + 1 - t_offset) / TABLES_PER_OCTAVE)
                w = min(max((f - lo) / (hi - lo), 0.0), 1.0)
                if r0 >= last_row:
                    r0, w = last_row, 0.0
            r1 = min(r0 + 1, last_row)
            s = w * w * (3 - 2 * w)

            def value(p):
                return (1 - s) * read(r0, p) + s * read(r1, p)

            y = value(ph)
            if pulse:
                y = value((ph - pulse_width[v, k]) % 1.0) - y  # zero-mean pulse
            out[v, k] = y
            ph = (ph + freq_hz[v, k] / sample_rate) % 1.0
    return out


@pytest.mark.parametrize("pulse", [False, True])
def test_wavetable_kernel_matches_slow_reference(pulse):
    fs = 44100
    rng = np.random.default_rng(SEED)
    n = 1500
    f = np.stack([np.geomspace(30.0, 21000.0, n),
                  np.repeat(rng.uniform(20.0, 5000.0, 15), 100)])
    pw = np.stack([np.full(n, 0.3), 0.5 + 0.4 * np.sin(np.arange(n) / 50.0)])
    bank, k0 = build_table_bank("saw")
    t_offset = TABLES_PER_OCTAVE * (math.log2(k0) - math.log2(fs / 2))
    out = np.empty((2, n))
    _wavetable_kernel(f, pw, pulse, bank, t_offset, 1.0 / fs, np.zeros(2), np.zeros((2, 3)),
                      np.zeros(2, dtype=np.int64), np.zeros(2), out, np.ones(2, dtype=bool))
    np.testing.assert_allclose(out, reference_wavetable(f, pw, pulse, bank, t_offset, fs), atol=1e-9)


# --------------------------------------------------------------------------------------
# noise and LFO physics


def psd_slope_db_per_octave(y: np.ndarray, sample_rate: int, f_lo: float, f_hi: float) -> float:
    f, p = scipy.signal.welch(y, sample_rate, nperseg=8192)
    band = (f >= f_lo) & (f <= f_hi)
    slope, _ = np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)
    return float(slope)


@pytest.mark.parametrize("color,slope,f_lo", [("white", 0.0, 100.0), ("pink", -3.0, 100.0),
                                               ("brown", -6.0, 300.0)])
def test_noise_spectral_slope_and_rms(color, slope, f_lo):
    fs = 48000
    noise = NoiseSource(fs, voices=2, rng=np.random.default_rng(SEED), color=color)
    y = noise.process(8 * fs)
    assert psd_slope_db_per_octave(y[0], fs, f_lo, 8000.0) == pytest.approx(slope, abs=0.3)
    assert np.sqrt(np.mean(y**2)) == pytest.approx(1 / np.sqrt(3), rel=0.1)
    assert abs(np.corrcoef(y[0], y[1])[0, 1]) < 0.05  # voices are independent


def test_white_noise_is_uniform_in_unit_interval():
    y = NoiseSource(22050, voices=1, rng=np.random.default_rng(SEED)).process(50000)
    assert y.min() >= -1.0 and y.max() < 1.0
    assert np.mean(y) == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize("shape", ["sine", "triangle", "saw", "square"])
def test_lfo_rate_and_depth(sample_rate, shape):
    lfo = Lfo(sample_rate, rate_hz=3.0, shape=shape, depth=0.4, phase=0.1)
    y = lfo.process(2 * sample_rate)[0]  # 6 cycles
    assert np.max(np.abs(y)) <= 0.4 + 1e-12
    assert np.max(y) == pytest.approx(0.4, abs=1e-3)
    up = np.count_nonzero((y[:-1] <= 0) & (y[1:] > 0))
    assert up == 6  # one rising zero crossing per cycle (at phase 0; saw: the ramp through 0)


def test_lfo_shapes_at_quarter_cycles():
    lfo = Lfo(48000, rate_hz=12000.0, shape="triangle")
    np.testing.assert_allclose(lfo.process(4)[0], [0, 1, 0, -1], atol=1e-12)
    lfo = Lfo(48000, rate_hz=12000.0, shape="saw")
    np.testing.assert_allclose(lfo.process(4)[0], [0, 0.5, -1, -0.5], atol=1e-12)
    lfo = Lfo(48000, rate_hz=12000.0, shape="sine", voices=2, phase=np.array([0.0, 0.25]))
    np.testing.assert_allclose(lfo.process(2), [[0, 1], [1, 0]], atol=1e-12)


def test_lfo_phase_kernel_matches_closed_form():
    phase = np.array([0.0, 0.7])
    out = np.empty((2, 5000))
    _phase_kernel(3.3 / 22050, phase, out)
    ref = (np.array([0.0, 0.7])[:, None] + np.arange(5001) * 3.3 / 22050) % 1.0
    np.testing.assert_allclose(out, ref[:, :-1], atol=1e-9)
    np.testing.assert_allclose(phase, ref[:, -1], atol=1e-9)


def test_sample_hold_changes_once_per_cycle():
    fs = 22050
    lfo = Lfo(fs, voices=2, rate_hz=10.0, shape="sample_hold", rng=np.random.default_rng(SEED))
    y = lfo.process(fs)
    for v in range(2):
        changes = np.count_nonzero(np.diff(y[v]))
        assert changes == 9  # 10 cycles: the first value is drawn at the start
        assert np.all(np.abs(y[v]) <= 1.0)
    assert not np.array_equal(y[0], y[1])


# --------------------------------------------------------------------------------------
# contract


def render_split(make, render, n, splits):
    proc = make()
    out, i, j = [], 0, 0
    while i < n:
        m = min(splits[j % len(splits)], n - i)
        out.append(render(proc, i, m))
        i += m
        j += 1
    return np.concatenate(out, axis=1)


def osc_case(waveform):
    fs = 48000
    n = 20000
    rng = np.random.default_rng(SEED)
    f = np.stack([np.geomspace(40.0, 18000.0, n), 220.0 * (1 + 0.05 * np.sin(np.arange(n) / 300.0)),
                  np.repeat(rng.uniform(0.0, 3000.0, 20), n // 20)])
    pw = np.broadcast_to(0.5 + 0.4 * np.sin(np.arange(n) / 700.0), (3, n))

    def make():
        return BandlimitedOscillator(fs, voices=3, waveform=waveform)

    def render(proc, i, m):
        return proc.process(f[:, i:i + m], pulse_width=pw[:, i:i + m])
    return make, render, n


def noise_case(color):
    def make():
        return NoiseSource(44100, voices=3, rng=np.random.default_rng(SEED), color=color)
    return make, lambda proc, i, m: proc.process(m), 20000


def lfo_case(shape):
    def make():
        return Lfo(22050, voices=2, rate_hz=7.3, shape=shape, depth=0.5, phase=np.array([0.0, 0.3]),
                   rng=np.random.default_rng(SEED))
    return make, lambda proc, i, m: proc.process(m), 20000


CASES = ([("osc", w) for w in WAVEFORMS] + [("noise", c) for c in ("white", "pink", "brown")]
         + [("lfo", s) for s in ("sine", "triangle", "saw", "square", "sample_hold")])
BUILDERS = {"osc": osc_case, "noise": noise_case, "lfo": lfo_case}


@pytest.mark.parametrize("family,kind", CASES)
def test_contract_block_size_invariance_reset_and_determinism(family, kind):
    make, render, n = BUILDERS[family](kind)
    whole = render_split(make, render, n, [n])
    assert whole.dtype == np.float64 and whole.ndim == 2 and whole.shape[1] == n
    assert np.all(np.isfinite(whole))
    np.testing.assert_allclose(render_split(make, render, n, SPLITS), whole, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(render_split(make, render, n, [n]), whole)  # same seed, same output
    proc = make()
    render(proc, 0, 777)
    proc.reset()
    again = np.concatenate([render(proc, 0, n)], axis=1)
    np.testing.assert_array_equal(again, whole)


def test_zero_frequency_is_silence_for_zero_mean_waveforms():
    for waveform in ("sine", "saw", "square", "triangle"):
        y = BandlimitedOscillator(22050, voices=2, waveform=waveform).process(np.zeros((2, 300)))
        np.testing.assert_allclose(y, 0.0, atol=1e-12)


@pytest.mark.parametrize("call,match", [
    (lambda: BandlimitedOscillator(48000, voices=1, waveform="sawtooth"), "waveform must be one of"),
    (lambda: BandlimitedOscillator(48000, voices=0), "voices must be"),
    (lambda: BandlimitedOscillator(48000, voices=2).process(np.zeros((3, 5))), r"shape \(2, n\)"),
    (lambda: BandlimitedOscillator(48000, voices=1).process(np.full((1, 5), np.nan)), "must be finite"),
    (lambda: BandlimitedOscillator(48000, voices=1, waveform="pulse").process(
        np.zeros((1, 5)), pulse_width=0.99), r"pulse_width must be in \[0.05, 0.95\]"),
    (lambda: NoiseSource(48000, voices=1, rng=np.random.default_rng(0), color="blue"), "color must be"),
    (lambda: Lfo(48000, shape="sample_hold"), "needs rng"),
    (lambda: Lfo(48000, rate_hz=-1.0), "rate_hz must be in"),
])
def test_bad_parameters_raise_with_the_value(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# --------------------------------------------------------------------------------------


def _print_measurements() -> None:  # pragma: no cover - documentation helper
    import time

    fs = 48000
    f = exponential_sweep_hz(fs)
    phase = oscillator_phase(f, fs)
    print(f"sweep 100 Hz -> 10 kHz exponential, {f.size / fs:.0f} s at {fs} Hz")
    for waveform in WAVEFORMS:
        y, _, _ = render_sweep(waveform)
        print(f"  {waveform:9s} {non_harmonic_db(y, phase, f, fs):7.1f} dB")
    print(f"  naive saw {non_harmonic_db(naive_saw(phase), phase, f, fs):7.1f} dB")
    print(f"  polyBLEP  {non_harmonic_db(polyblep_saw(phase, f, fs), phase, f, fs):7.1f} dB")
    osc = BandlimitedOscillator(fs, voices=16, waveform="saw")
    fconst = np.full((16, fs), 220.0) * (1 + 0.05 * np.arange(16)[:, None])
    fvib = fconst * (1 + 0.01 * np.sin(2 * np.pi * 5 * np.arange(fs) / fs))
    osc.process(fconst[:, :10])
    for name, freq in (("constant", fconst), ("vibrato", fvib)):
        runs = [_timed(osc, freq, time) for _ in range(20)]
        print(f"  16 voices x 1 s saw, {name} audio-rate freq: CPU time min {min(runs) * 1e3:.1f} ms, "
              f"median {np.median(runs) * 1e3:.1f} ms")


def _timed(osc, freq, time) -> float:  # pragma: no cover
    t0 = time.thread_time()
    osc.process(freq)
    return time.thread_time() - t0


if __name__ == "__main__":  # pragma: no cover
    _print_measurements()


@pytest.mark.parametrize("waveform", ["saw", "pulse"])
def test_constant_frequency_path_equals_the_per_sample_path(waveform):
    """``wavetable_voice`` on a constant frequency (its short loop) computes exactly what the
    per-sample step computes (forced here by a frequency row that changes in its last
    sample), including across a band change at the first sample and phases near 1."""
    from symphony.dsp.oscillators import wavetable_voice

    fs = 48000
    bank, k0 = build_table_bank("saw")
    t_offset = TABLES_PER_OCTAVE * (math.log2(k0) - math.log2(fs / 2))
    pulse = waveform == "pulse"
    pw = np.array([0.3])
    for f in (27.5, 440.0, 3951.0, 0.45 * fs / 2):
        n = 2001
        states = []
        for row in (np.array([f]), np.concatenate([np.full(n - 1, f), [f * 1.5]])):
            phase = np.array([1.0 - 1e-17])
            band = np.array([[1.0, 2.0, 1.0]])  # a stale band from an earlier note
            index, weight = np.zeros(1, dtype=np.int64), np.zeros(1)
            out = np.empty(n)
            wavetable_voice(bank, t_offset, pulse, pw, row, 1.0 / fs, 0, phase, band, index, weight, out)
            states.append((out, phase.copy()))
        np.testing.assert_array_equal(states[0][0][:-1], states[1][0][:-1])
        assert np.abs(states[0][0]).max() > 0.5


@pytest.mark.parametrize("waveform", ["saw", "pulse"])
def test_vibrato_path_equals_the_per_sample_kernel(waveform):
    """A frequency moving inside one row band (vibrato) through ``wavetable_voice`` equals
    the reference kernel sample by sample; a sweep across bands takes the full step."""
    fs = 44100
    n = 3000
    t = np.arange(n) / fs
    for f in (220.0 * 2 ** (0.004 * np.sin(2 * np.pi * 5.0 * t)), np.geomspace(100.0, 4000.0, n)):
        freq = np.stack([f, 1.5 * f])
        pw = np.full((2, n), 0.4)
        bank, k0 = build_table_bank("saw")
        t_offset = TABLES_PER_OCTAVE * (math.log2(k0) - math.log2(fs / 2))
        out = np.empty((2, n))
        for split in ((0, n), (0, 7, 1500, n)):
            state = (np.zeros(2), np.zeros((2, 3)), np.zeros(2, dtype=np.int64), np.zeros(2))
            for a, b in zip(split[:-1], split[1:]):
                _wavetable_kernel(freq[:, a:b], pw[:, a:b], waveform == "pulse", bank, t_offset, 1.0 / fs,
                                  *state, out[:, a:b], np.ones(2, dtype=bool))
            np.testing.assert_allclose(out, reference_wavetable(freq, pw, waveform == "pulse", bank, t_offset, fs),
                                       atol=1e-9)
