"""Orchestra: sections (instrument + mixer strip), effect buses and the master chain.

Signal flow per block::

    section: instrument (2, n) -> x expression (dynamics, per sample) -> x gain_db -> pan
             -> dry mix, and -> x send level -> bus input
    bus:     effect (100 % wet) -> x gain_db -> mix
    master:  x gain_db -> true-peak limiter (ceiling_dbtp)      [MasterChain, applied by sinks]

``Orchestra.process`` returns the *pre-master* mix and, when asked, one stem per section
and per bus; the stems sum exactly to the pre-master mix.
"""

from __future__ import annotations

import bisect
import zlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

import numpy as np
from numba import njit

from symphony.dsp.base import DENORMAL_FLOOR, db_to_gain
from symphony.dsp.dynamics import Compressor, TruePeakLimiter
from symphony.dsp.filters import rbj_coefficients
from symphony.dsp.linear import sos_cascade
from symphony.errors import RenderError
from symphony.score.model import Score, Section
from symphony.spaces import SceneReverb
from symphony.tempo import TempoMap

#: Length of the gain ramp that replaces a step change of dynamics (avoids a click).
DYNAMIC_STEP_MS = 15.0


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power pan law normalized to unity at the centre.

    ``pan`` in [-1, 1]; returns ``(left, right)`` with ``left**2 + right**2 == 2``.

    Examples
    --------
    >>> pan_gains(0.0)
    (1.0, 1.0)
    """
    angle = (float(pan) + 1.0) * np.pi / 4.0
    left, right = np.sqrt(2.0) * np.cos(angle), np.sqrt(2.0) * np.sin(angle)
    if pan == 0.0:
        return 1.0, 1.0
    return float(left), float(right)


def section_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of one section: independent of the other sections' names and order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]))


class ExpressionCurve:
    """Per-sample expression gain of a section from its dynamic points (dB breakpoints).

    A ``ramp`` point moves linearly in dB to the next point (crescendo/decrescendo); a
    step change is spread over ``DYNAMIC_STEP_MS``. Before the first point the first level
    holds; with no points the gain is 1.
    """

    def __init__(self, frames: list[int], levels_db: list[float], ramps: list[bool],
                 sample_rate: int) -> None:
        step = max(1, int(round(DYNAMIC_STEP_MS * sample_rate / 1000.0)))
        xs: list[float] = []
        ys: list[float] = []
        for i, (f, level) in enumerate(zip(frames, levels_db)):
            if xs and f <= xs[-1]:
                f = xs[-1] + 1  # strictly increasing breakpoints
            if i and not ramps[i - 1]:
                # the previous level held until here: step to this one over `step` frames
                xs.append(float(f))
                ys.append(ys[-1])
                f = f + step
            xs.append(float(f))
            ys.append(float(level))
        self._x = np.asarray(xs, dtype=np.float64)
        self._y = np.asarray(ys, dtype=np.float64)
        self._xs, self._ys = xs, ys  # the same values as Python lists: bisect beats searchsorted here
        self.constant = len(set(ys)) <= 1
        self._constant_gain = float(db_to_gain(ys[0])) if ys else 1.0

    def gain(self, start_frame: int, n: int) -> np.ndarray | float:
        """Linear gain for frames ``start_frame .. start_frame + n - 1``.

        A float when the level is flat over the whole span (the common case), so the
        mixer multiplies by a scalar instead of an array.
        """
        if self.constant:
            return self._constant_gain
        xs, ys = self._xs, self._ys
        last = start_frame + n - 1
        i = bisect.bisect_right(xs, start_frame)  # = np.searchsorted(x, start_frame, side="right")
        j = bisect.bisect_left(xs, last)          # = np.searchsorted(x, last, side="left")
        # no breakpoint strictly inside the span, and the segment holds a flat level
        if i >= j and (i == 0 or i == len(xs) or ys[i - 1] == ys[i]):
            level = ys[0] if i == 0 else ys[i - 1]
            return 10.0 ** (level / 20.0)
        t = np.arange(start_frame, start_frame + n, dtype=np.float64)
        return 10.0 ** (np.interp(t, self._x, self._y) / 20.0)


@njit(cache=True)
def _fader_kernel(block, expr, per_sample, gain_left, gain_right, out):  # pragma: no cover - jit
    """``out[0] = block[0] * (expr * gain_left)``, ``out[1] = block[1] * (expr * gain_right)``.

    ``expr`` has one value (``per_sample`` False) or one per frame. The products are those
    numpy forms for the same expression, in the same order (bit-identical). Returns True
    when every output sample is finite (the NaN/Inf guard, without a boolean temporary).
    """
    n = block.shape[1]
    bad = False
    for c in range(2):
        g = gain_left if c == 0 else gain_right
        e = expr[0] * g
        for i in range(n):
            if per_sample:
                e = expr[i] * g
            v = block[c, i] * e
            out[c, i] = v
            bad |= not (abs(v) <= 1.7976931348623157e308)  # NaN compares False
    return not bad


@njit(cache=True)
def _all_finite(a):  # pragma: no cover - jit
    """True when every element of the 2-D array ``a`` is finite (``np.isfinite(a).all()``)."""
    bad = False
    for c in range(a.shape[0]):
        for i in range(a.shape[1]):
            bad |= not (abs(a[c, i]) <= 1.7976931348623157e308)
    return not bad


@njit(cache=True)
def _mix_kernel(out, mix, bus_in, buses, levels):  # pragma: no cover - jit
    """``mix += out`` and ``bus_in[buses[k]] += levels[k] * out`` for every send ``k`` (numpy's order)."""
    for c in range(out.shape[0]):
        for i in range(out.shape[1]):
            mix[c, i] += out[c, i]
    for k in range(buses.shape[0]):
        dst = bus_in[buses[k]]
        level = levels[k]
        for c in range(out.shape[0]):
            for i in range(out.shape[1]):
                dst[c, i] += level * out[c, i]


@dataclass
class SectionStrip:
    """One section's instrument and mixer strip (state lives in the instrument)."""

    section: Section
    instrument: object
    gain_left: float
    gain_right: float
    sends: tuple[tuple[int, float], ...]  # (bus index, linear send level)
    expression: ExpressionCurve
    compressor: Compressor | None = None
    sidechain: int | None = None  # index of the strip that keys the compressor

    def __post_init__(self) -> None:
        # the sends as arrays for the mixing kernel (same order as ``sends``)
        self.send_buses = np.array([b for b, _ in self.sends], dtype=np.int64)
        self.send_levels = np.array([lvl for _, lvl in self.sends], dtype=np.float64)


class _PlainBus:
    """Adapter: an effect whose output does not depend on the absolute frame."""

    def __init__(self, effect) -> None:
        self.effect = effect

    def reset(self) -> None:
        self.effect.reset()

    def process(self, x: np.ndarray, start_frame: int) -> np.ndarray:
        return self.effect.process(x)


class Orchestra:
    """The instruments of a score, wired to buses.

    Parameters
    ----------
    score : Score
    sample_rate : int
    tempo_map : TempoMap
        Used for dynamics breakpoints and tempo-synced bus effects.
    instruments : mapping of str -> Instrument class
    effects : mapping of str -> effect class
    seed : int
        Root of every section's random generator.
    """

    def __init__(self, score: Score, sample_rate: int, tempo_map: TempoMap, *,
                 instruments: Mapping[str, type], effects: Mapping[str, type], seed: int) -> None:
        self.sample_rate = int(sample_rate)
        self._score = score  # for fault messages in bar:beat
        self._tempo_map = tempo_map
        bus_index = {bus.name: i for i, bus in enumerate(score.buses)}
        self.bus_names = tuple(bus.name for bus in score.buses)
        self.buses = []
        self.bus_gains = []
        scenes = [(tempo_map.frame_at(p.start_beat), p.space) for p in score.passages if p.space]
        scenes.sort(key=lambda s: s[0])
        for bus in score.buses:
            params = dict(bus.params)
            if "time_beats" in params:  # tempo-synced delay: beats at the opening tempo
                beats = float(params.pop("time_beats"))
                params["time_ms"] = beats * 60000.0 / tempo_map.bpm_at(0)
            if bus.effect == "reverb":
                self.buses.append(SceneReverb(self.sample_rate, effects["reverb"], params, scenes))
            else:
                self.buses.append(_PlainBus(effects[bus.effect](self.sample_rate, **params)))
            self.bus_gains.append(float(db_to_gain(bus.gain_db)))
        self.strips: list[SectionStrip] = []
        for section in score.sections:
            cls = instruments[section.instrument]
            inst = cls(self.sample_rate, params=dict(section.params),
                       rng=section_rng(seed, section.name), voices=section.voices)
            points = [p for p in score.dynamics if p.section == section.name]
            curve = ExpressionCurve([tempo_map.frame_at(p.beat) for p in points],
                                    [p.level_db for p in points], [p.ramp for p in points],
                                    self.sample_rate)
            g = float(db_to_gain(section.gain_db))
            left, right = pan_gains(section.pan)
            sends = tuple((bus_index[name], float(level)) for name, level in section.sends.items())
            comp = None
            if section.compressor:
                settings = {k: v for k, v in section.compressor.items() if k != "sidechain"}
                comp = Compressor(self.sample_rate, channels=2, **settings)
            self.strips.append(SectionStrip(section, inst, g * left, g * right, sends, curve, comp))
        self.section_names = tuple(s.section.name for s in self.strips)
        for strip in self.strips:
            source = (strip.section.compressor or {}).get("sidechain")
            if source is not None:
                strip.sidechain = self.section_names.index(source)
        self._bus_in = np.zeros((len(self.buses), 2, 0))

    def reset(self) -> None:
        """Silence every instrument and effect."""
        for strip in self.strips:
            strip.instrument.reset()
            if strip.compressor is not None:
                strip.compressor.reset()
        for bus in self.buses:
            bus.reset()

    def process(self, start_frame: int, n: int, section_blocks: list[np.ndarray], *,
                stems: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Mix one block.

        Parameters
        ----------
        start_frame : int
            Absolute frame of the block's first sample (for dynamics).
        n : int
        section_blocks : list of (2, n) arrays
            Each section's instrument output for this block, in ``section_names`` order
            (the Conductor renders them, splitting at the section's own events).
        stems : bool
            Also return a ``(sections + buses, 2, n)`` array of post-fader stems.

        Returns
        -------
        mix : ndarray, shape (2, n)
            The pre-master mix.
        stems : ndarray or None
        """
        if self._bus_in.shape[-1] != n:
            self._bus_in = np.zeros((len(self.buses), 2, n))
        else:
            self._bus_in.fill(0.0)
        mix = np.zeros((2, n))
        stem_out = np.zeros((len(self.strips) + len(self.buses), 2, n)) if stems else None
        faded: list[np.ndarray | None] = []
        for strip, block in zip(self.strips, section_blocks):
            if block is None:
                faded.append(None)
                continue
            expr = strip.expression.gain(start_frame, n)
            out = np.empty((2, n))
            if isinstance(expr, float):
                ok = _fader_kernel(block, np.full(1, expr), False, strip.gain_left, strip.gain_right, out)
            else:
                ok = _fader_kernel(block, expr, True, strip.gain_left, strip.gain_right, out)
            if not ok:
                raise self._fault(f"section '{strip.section.name}' ({strip.section.instrument})", out,
                                  start_frame, strip.instrument, strip.section.params)
            faded.append(out)
        for i, strip in enumerate(self.strips):
            out = faded[i]
            if strip.compressor is not None:
                # The compressor runs every block (its envelope must keep time even when
                # its own section is silent); it is keyed by the sidechain section, if any.
                signal = out if out is not None else np.zeros((2, n))
                if strip.sidechain is None:
                    out = strip.compressor.process(signal)
                else:
                    key = faded[strip.sidechain]
                    out = strip.compressor.process(signal, key if key is not None else np.zeros((2, n)))
                if not _all_finite(out):
                    raise self._fault(f"section '{strip.section.name}' (compressor)", out, start_frame,
                                      strip.compressor, strip.section.compressor or {})
            if out is None:
                continue
            _mix_kernel(out, mix, self._bus_in, strip.send_buses, strip.send_levels)
            if stem_out is not None:
                stem_out[i] = out
        for j, (effect, gain) in enumerate(zip(self.buses, self.bus_gains)):
            wet = effect.process(self._bus_in[j], start_frame) * gain
            if not _all_finite(wet):
                bus = self._score.buses[j]
                raise self._fault(f"bus '{bus.name}' ({bus.effect})", wet, start_frame,
                                  getattr(effect, "effect", effect), bus.params)
            mix += wet
            if stem_out is not None:
                stem_out[len(self.strips) + j] = wet
        return mix, stem_out

    def _fault(self, what: str, block: np.ndarray, start_frame: int, processor: object,
               declared: Mapping) -> RenderError:
        """A NaN/Inf found in ``block``: name where (bar:beat, seconds, frame) and the parameters."""
        bad = np.flatnonzero(~np.isfinite(block).all(axis=0))
        frame = start_frame + int(bad[0])
        value = block[:, bad[0]]
        value = value[~np.isfinite(value)][0]
        seconds = frame / self.sample_rate
        beat = Fraction(self._tempo_map.beat_at_seconds(seconds)).limit_denominator(960)
        bar, in_bar = self._score.beat_to_bar(beat)
        params = getattr(processor, "params", None)
        if not isinstance(params, Mapping):
            params = getattr(processor, "_values", None)
        values = dict(params) if isinstance(params, Mapping) else dict(declared)
        shown = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v!r}"
                          for k, v in values.items()) or "(defaults)"
        set_in_score = ", ".join(sorted(declared)) or "none"
        return RenderError(
            f"{self._score.path}: {what} produced {value} at bar {bar} beat {float(in_bar):g} "
            f"({seconds:.3f} s, frame {frame}); parameters: {shown} (set in the score: {set_in_score}); "
            f"nothing was written; change these parameters or report the instrument as a bug")

    @property
    def stem_names(self) -> tuple[str, ...]:
        """Names of the stems: sections, then buses (prefixed ``bus-``)."""
        return self.section_names + tuple(f"bus-{name}" for name in self.bus_names)


#: Corner of the master's DC blocker (2nd-order Butterworth high-pass): -0.02 dB at 41 Hz.
DC_BLOCK_HZ = 10.0


class MasterChain:
    """Master gain, DC blocker, true-peak limiting. Delays the signal by ``latency_frames``.

    The DC blocker (Butterworth high-pass at ``DC_BLOCK_HZ``, RBJ cookbook) stands where an analog console's
    output coupling would: nonlinear stages (a driven ladder, saturation) turn asymmetric
    waveforms into a DC offset, which costs limiter headroom and shows as a bias. It runs
    on every block, so it does not depend on which instruments were skipped while silent.
    """

    def __init__(self, sample_rate: int, *, gain_db: float = 0.0, ceiling_dbtp: float = -1.0) -> None:
        self.gain = float(db_to_gain(gain_db))
        # the coefficients of dsp.filters.Biquad(kind="highpass", q=0.7071), run through the
        # fused gain + biquad kernel (bit-identical to scipy.signal.sosfilt of x * gain)
        self._dc_sos = rbj_coefficients("highpass", DC_BLOCK_HZ, 0.7071, 0.0, sample_rate)
        self.limiter = TruePeakLimiter(sample_rate, channels=2, ceiling_dbtp=ceiling_dbtp)
        self.reset()

    @property
    def latency_frames(self) -> int:
        return int(self.limiter.latency_frames)

    def reset(self) -> None:
        self._dc_zi = np.zeros((1, 2, 2))
        self.limiter.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        # subnormal inputs and states are flushed (as dsp.filters.Biquad flushes its state
        # between blocks), so a decay ends in exact zeros instead of a slow subnormal cycle
        y = sos_cascade(self._dc_sos, x, self._dc_zi, gain=self.gain, floor=DENORMAL_FLOOR)
        return self.limiter.process(y)
