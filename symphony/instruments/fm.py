"""Four-operator FM (phase-modulation) synthesizer, DX7-style: bells, electric piano, brass, glass.

The model is Chowning's FM (J. Chowning, "The Synthesis of Complex Audio Spectra by Means
of Frequency Modulation", JAES 21(7), 1973) implemented as phase modulation, as in the
Yamaha DX7: each operator is a sine oscillator

    y_j[k] = a_j[k] * sin(2 pi phi_j[k] + sum_{i -> j} y_i[k])

whose phase is offset by the outputs of the operators that modulate it (algorithm). For a
modulator ``a_j`` is the *modulation index* in radians (peak phase deviation); for a
carrier it is an output amplitude. A carrier at ``f_c`` modulated by one sine of index
``I`` at ``f_m`` has partials at ``f_c + k f_m`` with amplitudes ``J_k(I)`` (Bessel
functions of the first kind; Chowning eq. 5). Operator 4 (the top of every algorithm)
may modulate itself with the DX7's two-sample averaged feedback
``s_4[k] = e_4[k] sin(2 pi phi_4 + beta (s_4[k-1] + s_4[k-2]) / 2)``, ``y_4 = a_4 s_4``
(Tomisawa, US patent 4,249,447; ``e_4`` is the operator's envelope), which turns its sine
into a saw-like wave as ``beta`` grows, whatever operator 4's output level.

Every operator has its own exponential ADSR (:class:`~symphony.dsp.envelopes.AdsrEnvelope`),
so brightness (the modulators' indices) and loudness (the carriers) evolve separately; a
master envelope (linear, 2 ms attack, release 1.25 x the longest carrier release) gates the
voice for :class:`~symphony.instruments.poly.PolyInstrument` and fades stolen voices.

The per-sample recursion runs in one numba kernel over (operators, active voices, n); the
sine is a 4096-point table with linear interpolation (error < 3e-7, -130 dB).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from symphony.dsp.base import midi_to_hz
from symphony.dsp.envelopes import AdsrEnvelope
from symphony.instruments import register
from symphony.instruments.poly import MIN_ATTACK_MS, MIN_RELEASE_MS, PolyInstrument
from symphony.params import Param

__all__ = ["FmSynth", "ALGORITHMS", "PRESETS", "fm_kernel", "SINE_TABLE"]

N_OPS = 4
TABLE_SIZE = 4096
#: One sine cycle plus a guard point for linear interpolation: ``sin(2 pi i / TABLE_SIZE)``.
SINE_TABLE = np.sin(2.0 * np.pi * np.arange(TABLE_SIZE + 1) / TABLE_SIZE)
#: Feedback amount 1 means beta = 1.6 rad (DX7 feedback 7 is about pi/2 .. pi; above ~1.6
#: the averaged loop turns noisy).
FEEDBACK_MAX = 1.6

#: Algorithms: ``mods[j]`` = operators (0-based: 0 = op 1) modulating operator ``j``, and
#: the carriers whose sum is heard. Operators are computed 4 -> 1, so a modulator is always
#: numbered higher than what it modulates.
ALGORITHMS: dict[str, tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]] = {
    "stack": (((1,), (2,), (3,), ()), (0,)),            # 4 -> 3 -> 2 -> 1
    "pairs": (((1,), (), (3,), ()), (0, 2)),            # (2 -> 1) + (4 -> 3)
    "bell": (((1, 2, 3), (), (), ()), (0,)),            # 2, 3, 4 -> 1
    "parallel": (((), (), (), ()), (0, 1, 2, 3)),       # additive
    "branch": (((1,), (3,), (3,), ()), (0, 2)),         # 4 -> (2 -> 1, 3)
}


def _op(ratio, level, attack_ms, decay_ms, sustain, release_ms, detune_hz=0.0):
    return dict(ratio=ratio, level=level, attack_ms=attack_ms, decay_ms=decay_ms,
                sustain=sustain, release_ms=release_ms, detune_hz=detune_hz)


#: Presets as data. Per operator: frequency ratio to the note, fixed detune (Hz), level
#: (carriers: relative amplitude; modulators: modulation index in radians at full velocity
#: and middle C), and an exponential ADSR (ms, sustain fraction). Operator 1 is always a
#: carrier; its times are "the carrier's" that ``attack_ms``/``decay_ms``/``release_ms``
#: override (see :class:`FmSynth`).
PRESETS: dict[str, dict] = {
    # tubular bell: partials on the lattice f0 (1 + 3.5 k) (ratios 3.5 and 7 both land on
    # it), plus a short inharmonic clang (5.19) in the strike
    "bell": dict(algorithm="bell", feedback=0.0, ops=(
        _op(1.0, 1.0, 1.0, 4000.0, 0.0, 1500.0),
        _op(3.5, 2.2, 1.0, 2500.0, 0.0, 1500.0),
        _op(7.0, 0.7, 1.0, 700.0, 0.0, 700.0),
        _op(5.19, 1.2, 1.0, 150.0, 0.0, 150.0))),
    # DX7 "E.PIANO 1" in spirit: a 1:1 body pair whose index decays, and a 14:1 "tine"
    # pair whose bright transient dies in ~100 ms
    "epiano": dict(algorithm="pairs", feedback=0.15, ops=(
        _op(1.0, 1.0, 1.0, 3500.0, 0.0, 350.0),
        _op(1.0, 1.8, 1.0, 1200.0, 0.15, 350.0),
        _op(1.0, 0.45, 1.0, 1200.0, 0.0, 300.0, detune_hz=0.4),
        _op(14.0, 1.1, 1.0, 120.0, 0.0, 120.0))),
    # inharmonic stack (sqrt 2, e, ...) with feedback grit: clangorous, long ring
    "metallic": dict(algorithm="stack", feedback=0.35, ops=(
        _op(1.0, 1.0, 1.0, 2500.0, 0.15, 800.0),
        _op(1.414, 2.4, 1.0, 1800.0, 0.2, 800.0),
        _op(2.718, 1.4, 1.0, 900.0, 0.1, 600.0),
        _op(4.11, 1.0, 1.0, 600.0, 0.0, 400.0))),
    # brass: harmonic stack with a saw-like fed-back top; the modulators swell in slower
    # than the carrier (the "blat")
    "brass": dict(algorithm="stack", feedback=0.55, ops=(
        _op(1.0, 1.0, 40.0, 400.0, 0.85, 200.0),
        _op(1.0, 1.9, 90.0, 600.0, 0.7, 200.0),
        _op(1.0, 0.6, 60.0, 500.0, 0.7, 200.0),
        _op(1.0, 0.5, 30.0, 500.0, 0.8, 200.0))),
    # glass: additive partials at 1, 1 (+0.6 Hz: slow beating), 3 and 5.04, upper ones
    # fading first
    "glass": dict(algorithm="parallel", feedback=0.0, gain=1.3, ops=(
        _op(1.0, 1.0, 25.0, 3000.0, 0.5, 1200.0),
        _op(1.0, 0.5, 25.0, 3000.0, 0.5, 1200.0, detune_hz=0.6),
        _op(3.0, 0.3, 10.0, 1500.0, 0.2, 900.0),
        _op(5.04, 0.15, 5.0, 700.0, 0.0, 500.0))),
}


@numba.njit(cache=True)
def _table_sin(table, x):  # pragma: no cover - jit
    """``sin(2 pi x)`` from ``table`` (linear interpolation), any real ``x`` in cycles."""
    size = table.shape[0] - 1
    pos = (x - np.floor(x)) * size
    i = int(pos)
    frac = pos - i
    if i >= size:  # x a hair below an integer: x - floor(x) rounds to 1.0
        i -= size
    return table[i] + frac * (table[i + 1] - table[i])


@numba.njit(cache=True)
def fm_kernel(active, env1, env2, env3, env4, master, levels, increments, mod_matrix, carriers,
              feedback, table, phase, fb_state, out):  # pragma: no cover - jit
    """Phase-modulation recursion of all operators of the ``active`` voices; sums into ``out``.

    Per sample ``k`` and voice: ``s4 = env4 sin(2 pi p4 + feedback (s4[k-1] + s4[k-2]) / 2)``,
    ``y4 = levels[v, 3] s4`` (the feedback index does not depend on operator 4's level),
    then for j = 3, 2, 1: ``y_j = a_j sin(2 pi p_j + sum_i M[j, i] y_i)``, with
    ``a_j = levels[v, j] * env_j[v, k]``; ``out[k] += master[v, k] * sum_j carriers[j] y_j``;
    every phase then advances by its increment (wrapped to [0, 1)).

    Operator 4's feedback loop is the only recursion across samples; it runs with the voices
    interleaved (independent chains overlap in the CPU), and operators 3..1, which depend on
    the same sample only, run as plain loops over the block.

    Parameters
    ----------
    active : int64 (m,) voice rows to compute
    env1 .. env4 : (voices, n) envelopes of operators 1..4; master : (voices, n) voice gate
    levels : (voices, 4) index (rad) or carrier amplitude per operator
    increments : (voices, 4) phase increment per sample, cycles
    mod_matrix : (4, 4) 1.0 where operator i modulates operator j (``[j, i]``)
    carriers : (4,) 1.0 for operators that are heard
    feedback : beta of operator 4's averaged self-modulation, radians
    table : sine table (see :data:`SINE_TABLE`)
    phase : (voices, 4) carried phases, cycles in [0, 1); fb_state : (voices, 2) s4[k-1], s4[k-2]
    out : (n,) accumulated mono output
    """
    n = out.shape[0]
    m = active.shape[0]
    c = 1.0 / (2.0 * math.pi)  # radians -> cycles
    y4 = np.empty((m, n))
    y3 = np.empty(n)
    y2 = np.empty(n)
    # operator 4, voices interleaved
    p4 = np.empty(m)
    for a in range(m):
        p4[a] = phase[active[a], 3]
    for k in range(n):
        for a in range(m):
            v = active[a]
            fb = feedback * 0.5 * (fb_state[v, 0] + fb_state[v, 1]) * c
            y = env4[v, k] * _table_sin(table, p4[a] + fb)
            fb_state[v, 1] = fb_state[v, 0]
            fb_state[v, 0] = y
            y4[a, k] = levels[v, 3] * y
            p = p4[a] + increments[v, 3]
            p4[a] = p - 1.0 if p >= 1.0 else p
    for a in range(m):
        v = active[a]
        phase[v, 3] = p4[a]
        m32, m21, m31, m10, m20, m30 = (mod_matrix[2, 3], mod_matrix[1, 2], mod_matrix[1, 3],
                                         mod_matrix[0, 1], mod_matrix[0, 2], mod_matrix[0, 3])
        p, d, lev = phase[v, 2], increments[v, 2], levels[v, 2]
        for k in range(n):
            y3[k] = lev * env3[v, k] * _table_sin(table, p + m32 * y4[a, k] * c)
            p += d
            if p >= 1.0:
                p -= 1.0
        phase[v, 2] = p
        p, d, lev = phase[v, 1], increments[v, 1], levels[v, 1]
        for k in range(n):
            y2[k] = lev * env2[v, k] * _table_sin(table, p + (m21 * y3[k] + m31 * y4[a, k]) * c)
            p += d
            if p >= 1.0:
                p -= 1.0
        phase[v, 1] = p
        p, d, lev = phase[v, 0], increments[v, 0], levels[v, 0]
        c0, c1, c2, c3 = carriers[0], carriers[1], carriers[2], carriers[3]
        for k in range(n):
            y1 = lev * env1[v, k] * _table_sin(table, p + (m10 * y2[k] + m20 * y3[k] + m30 * y4[a, k]) * c)
            out[k] += master[v, k] * (c0 * y1 + c1 * y2[k] + c2 * y3[k] + c3 * y4[a, k])
            p += d
            if p >= 1.0:
                p -= 1.0
        phase[v, 0] = p


def algorithm_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(mod_matrix (4, 4), carriers (4,))`` float64 arrays of algorithm ``name``.

    Examples
    --------
    >>> algorithm_arrays("pairs")[1]
    array([1., 0., 1., 0.])
    """
    mods, car = ALGORITHMS[name]
    matrix = np.zeros((N_OPS, N_OPS))
    for j, sources in enumerate(mods):
        for i in sources:
            matrix[j, i] = 1.0
    carriers = np.zeros(N_OPS)
    carriers[list(car)] = 1.0
    return matrix, carriers


@register("fm_synth")
class FmSynth(PolyInstrument):
    """4-operator FM: partials at ``f_c + k f_m`` with Bessel amplitudes ``J_k(index)``.

    ``preset`` chooses the algorithm, the operator ratios, indices and envelopes (see
    :data:`PRESETS`). Modifiers:

    - ``index`` multiplies every modulator's index; the index also scales with velocity,
      ``1 - brightness_velocity (1 - velocity)`` (an electric piano: louder is brighter),
      and with the key, ``(261.63 Hz / f0) ** 0.5`` above middle C (higher notes duller,
      and fewer partials to alias); a modulator above 0.45 of the sample rate is muted.
    - ``ratio_2`` .. ``ratio_4``: 0 keeps the preset's ratio; otherwise 0.25 .. 16.
    - ``attack_ms``, ``decay_ms``, ``release_ms``: 0 keeps the preset's times; otherwise
      the value is operator 1's time and the other operators' times scale in proportion
      (the timbre evolves the same way, faster or slower). ``decay_ms`` is the carrier's
      T60: its initial exponential rate reaches -60 dB at that time (and the curve
      arrives at the sustain level there).
    - ``feedback`` (0..1) adds to the preset's self-modulation of operator 4 (beta up to
      1.6 rad in total).
    """

    FAMILY = "fm"
    DEFAULT_VOICES = 12
    DOC = "4-operator FM (DX7-style phase modulation): bell, epiano, metallic, brass, glass presets"
    DEMO = "c5:4 g5:8 e5 <c4 e5 g5>:2 d6:4"
    PARAMS = (
        Param("preset", "bell", choices=tuple(PRESETS), doc="operator ratios, indices, envelopes, algorithm"),
        Param("algorithm", "preset", choices=("preset",) + tuple(ALGORITHMS),
              doc="operator connection (preset = the preset's)"),
        Param("index", 1.0, 0.0, 20.0, doc="multiplier of the preset's modulation indices"),
        Param("ratio_2", 0.0, 0.25, 16.0, doc="operator 2 frequency ratio (0 = preset)", special=(0.0,)),
        Param("ratio_3", 0.0, 0.25, 16.0, doc="operator 3 frequency ratio (0 = preset)", special=(0.0,)),
        Param("ratio_4", 0.0, 0.25, 16.0, doc="operator 4 frequency ratio (0 = preset)", special=(0.0,)),
        Param("feedback", 0.0, 0.0, 1.0, doc="added operator 4 self-modulation (1 = 1.6 rad)"),
        Param("attack_ms", 0.0, 0.0, 5000.0, doc="carrier attack, ms (0 = preset; others scale along)"),
        Param("decay_ms", 0.0, 0.0, 20000.0, doc="carrier decay to -60 dB, ms (0 = preset; 10 ms minimum)"),
        Param("release_ms", 0.0, 0.0, 20000.0, doc="carrier release, ms (0 = preset; 10 ms minimum)"),
        Param("brightness_velocity", 0.6, 0.0, 1.0, doc="how much velocity scales the indices"),
    )

    #: Output scale: a full-velocity note peaks near 0.23 per channel, so that a 4-note
    #: chord of bells (sine-like partials that start together) stays below 0.9.
    LEVEL = 0.32
    KEY_BREAK_HZ = 261.63
    KEY_SLOPE = 0.5

    def _build(self) -> None:
        p = self.params
        sr, v = self.sample_rate, self.voices
        preset = PRESETS[p["preset"]]
        algorithm = preset["algorithm"] if p["algorithm"] == "preset" else p["algorithm"]
        self.algorithm = algorithm
        self._mod_matrix, self._carriers = algorithm_arrays(algorithm)
        ops = [dict(op) for op in preset["ops"]]
        for j in (2, 3, 4):
            r = p[f"ratio_{j}"]
            if r:  # 0 = the preset's ratio (Param.special); others are in [0.25, 16]
                ops[j - 1]["ratio"] = r
        for key, name, floor in (("attack_ms", "attack_ms", 0.0), ("decay_ms", "decay_ms", 10.0),
                                 ("release_ms", "release_ms", 10.0)):
            value = p[name]
            if value:
                scale = max(value, floor) / ops[0][key]
                for op in ops:
                    op[key] *= scale
        self.ops = ops
        self._op_envs = [AdsrEnvelope(sr, voices=v, attack_ms=max(op["attack_ms"], 1.0 if j else MIN_ATTACK_MS),
                                      decay_ms=op["decay_ms"], sustain=op["sustain"],
                                      release_ms=max(op["release_ms"], MIN_RELEASE_MS))
                         for j, op in enumerate(ops)]
        carrier_release = max(ops[j]["release_ms"] for j in range(N_OPS) if self._carriers[j])
        # linear, and 25 % longer than the slowest carrier release: the product with the
        # carriers' exponential releases keeps their (click-free) initial slope
        self._master = AdsrEnvelope(sr, voices=v, attack_ms=MIN_ATTACK_MS, decay_ms=0.0, sustain=1.0,
                                    release_ms=1.25 * max(carrier_release, MIN_RELEASE_MS), curve="linear")
        self._envs = [self._master] + self._op_envs
        self._ratio = np.array([op["ratio"] for op in ops])
        self._detune = np.array([op["detune_hz"] for op in ops])
        base = np.array([op["level"] for op in ops])
        carrier_sum = float(np.sum(base * self._carriers))
        # carriers normalized to a sum of 1; modulators scaled by the index multiplier
        self._carrier_level = np.where(self._carriers > 0, base / carrier_sum, 0.0)
        self._mod_level = np.where(self._carriers > 0, 0.0, base * p["index"])
        self._preset_gain = preset.get("gain", 1.0)
        self._feedback = FEEDBACK_MAX * min(preset["feedback"] + p["feedback"], 1.0)

    def _reset_dsp(self) -> None:
        self._phase = np.zeros((self.voices, N_OPS))
        self._fb = np.zeros((self.voices, 2))
        self._levels = np.zeros((self.voices, N_OPS))
        self._inc = np.zeros((self.voices, N_OPS))

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:
        p = self.params
        f0 = float(midi_to_hz(pitch))
        freqs = f0 * self._ratio + self._detune
        nyquist_guard = 0.45 * self.sample_rate
        audible = (freqs > 0.0) & (freqs < nyquist_guard)
        self._inc[slot] = np.where(audible, freqs / self.sample_rate, 0.0)
        # golden-ratio start phase per slot so chord onsets do not line up their peaks;
        # the carriers' amplitude envelopes start at 0, so any phase is click-free
        self._phase[slot] = (0.618034 * slot) % 1.0 * self._carriers
        self._fb[slot] = 0.0
        vel_scale = 1.0 - p["brightness_velocity"] * (1.0 - velocity)
        key_scale = min(1.0, (self.KEY_BREAK_HZ / f0) ** self.KEY_SLOPE)
        mod = self._mod_level * (vel_scale * key_scale)
        gain = self.LEVEL * self._preset_gain * velocity
        self._levels[slot] = np.where(audible, self._carrier_level * gain + mod, 0.0)

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, n))
        if not active.size:
            return out
        mono = np.zeros(n)
        fm_kernel(active.astype(np.int64), envs[1], envs[2], envs[3], envs[4], envs[0], self._levels, self._inc,
                  self._mod_matrix, self._carriers, self._feedback, SINE_TABLE, self._phase, self._fb, mono)
        out[0] = mono * math.sqrt(0.5)
        out[1] = out[0]
        return out
