"""Envelopes and glide: per-voice segment generators that never jump.

All three processors run on one numba kernel that plays, per voice, a list of segments
(target level, length in samples, curve). A segment always starts from the level the
voice is at, so a retrigger or a release mid-segment continues without a step.

Curves
------
``linear``: ``y[i] = y0 + (target - y0) i / N``.

``exponential``: the one-pole (RC) shape of analog envelope generators, aimed at an
*overshoot* target and clamped so that it really arrives at ``N`` (EarLevel Engineering,
N. Redmon, "Envelope generators", 2013; the same idea as the Curtis/SSM ADSR chips, whose
attack aims above the peak). With overshoot ratio ``r`` the curve is

    y[i] = o + (y0 - o) c**i,   o = target + r (target - y0),   c = (r / (1 + r)) ** (1 / N)

so ``y[N] = target`` exactly, whatever ``y0`` is; the voice is then set to the target.
Rising segments use ``r = 0.3`` (a convex, quickly-starting charge curve), falling
segments ``r = 0.001`` (the curve passes -60 dB of its span at about ``N``: decay and
release times mean "time to arrive").

The kernel evaluates the exponential curve in closed form, ``o + (y0 - o) c**i``, with the
powers of ``c`` taken from a table of 64 and a per-64-sample factor anchored to the segment
start: no recursion from sample to sample (see :func:`_segment_kernel`).

Timing: the level at the first sample of a block in which an event takes effect is the
start level ``y0``; a segment of ``N = round(time_ms * sample_rate / 1000)`` samples
reaches its target at sample ``N`` after the event.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from symphony.dsp.base import Processor, check_range, check_sample_rate
from symphony.errors import ParameterError

CURVES = ("linear", "exponential")
#: Overshoot ratio of rising exponential segments (attack).
RISE_RATIO = 0.3
#: Overshoot ratio of falling exponential segments (decay, release): -60 dB of the span.
FALL_RATIO = 0.001
#: Time constant with which a held (sustain) level follows a changed sustain parameter.
HOLD_SMOOTHING_MS = 5.0
#: Release shape of :meth:`AdsrEnvelope.fast_release` (linear: no slope step at its start).
FAST_RELEASE_RATIO = 0.0

# state columns
_LEVEL, _START, _TARGET, _OVER, _COEF, _DQ, _CB = range(7)
_SEG, _POS, _LEN, _HOLDING, _PENDING = range(5)
#: Exponential segments are evaluated in closed form on runs of this many samples
#: (``c**pos = (c**_RUN)**(pos // _RUN) * c**(pos % _RUN)``), anchored to the segment start.
_RUN = 64


def _ms_to_samples(time_ms: float, sample_rate: int) -> int:
    return int(round(time_ms * sample_rate / 1000.0))


@numba.njit(cache=True)
def _begin_segment(v, seg, fstate, istate, targets, lengths, ratios, hold, ptab):
    """Enter segment ``seg`` of voice ``v`` from the current level; skips 0-length ones."""
    n_seg = targets.shape[1]
    while True:
        if seg >= n_seg:
            istate[v, _SEG] = n_seg
            istate[v, _HOLDING] = 0
            return
        length = lengths[v, seg]
        target = targets[v, seg]
        if length <= 0:
            fstate[v, _LEVEL] = target
            if seg == hold:
                istate[v, _SEG] = seg
                istate[v, _HOLDING] = 1
                return
            seg += 1
            continue
        y0 = fstate[v, _LEVEL]
        istate[v, _SEG] = seg
        istate[v, _POS] = 0
        istate[v, _LEN] = length
        istate[v, _HOLDING] = 0
        fstate[v, _START] = y0
        fstate[v, _TARGET] = target
        r = ratios[v, seg]
        if r > 0.0:
            over = target + r * (target - y0)
            coef = (r / (1.0 + r)) ** (1.0 / length)
            fstate[v, _OVER] = over
            fstate[v, _COEF] = coef
            # powers c**0 .. c**(_RUN - 1), c**_RUN, and the span of run 0
            p = 1.0
            for j in range(_RUN):
                ptab[v, j] = p
                p *= coef
            fstate[v, _CB] = p
            fstate[v, _DQ] = y0 - over
        else:
            fstate[v, _OVER] = 0.0
            fstate[v, _COEF] = -1.0  # marks "linear"
        return


@numba.njit(cache=True, error_model="numpy")  # no zero-division checks in the linear runs
def _segment_kernel(fstate, istate, targets, lengths, ratios, hold, hold_coef, ptab, out):
    """Run every voice's segment list for ``out.shape[1]`` samples (output before step).

    Per voice the block is walked run by run: the samples of one segment up to its last
    step, then the boundary sample (where the level snaps to the target and the next
    segment begins), each run in a tight loop on local variables. A held level that no
    longer moves (``level + (target - level) * hold_coef == level``, which is exact at the
    sustain level and at any fixed point of the rounding) and a finished voice are filled
    as constants. Linear segments and held levels get exactly the arithmetic of the plain
    per-sample state machine, so the values do not depend on the runs or on the block split.

    Exponential segments: the level after ``p`` steps is ``o + (y0 - o) c**p`` (module
    docstring), evaluated as ``o + D_q * ptab[p % _RUN]`` with ``D_q = (y0 - o) (c**_RUN)**q``,
    ``q = p // _RUN`` carried in the state: no dependency from one sample to the next
    (the textbook recursion ``y = o + (y - o) c`` is a chain of three dependent
    operations per sample), and the values are a function of ``p`` only, however the
    blocks split. It differs from the recursion by rounding (about 1e-15 relative).
    """
    voices, n = out.shape
    n_seg = targets.shape[1]
    for v in range(voices):
        if istate[v, _PENDING] >= 0:
            _begin_segment(v, istate[v, _PENDING], fstate, istate, targets, lengths, ratios, hold, ptab)
            istate[v, _PENDING] = -1
        level = fstate[v, _LEVEL]
        row = out[v]
        k = 0
        while k < n:
            seg = istate[v, _SEG]
            if seg >= n_seg:
                # finished voice (the common case in a large pool): a constant
                for j in range(k, n):
                    row[j] = level
                break
            if istate[v, _HOLDING] == 1:
                # held until the next event (events fall between calls)
                tgt = targets[v, seg]
                while k < n:
                    row[k] = level
                    k += 1
                    new = level + (tgt - level) * hold_coef
                    if new == level:
                        for j in range(k, n):
                            row[j] = level
                        k = n
                        break
                    level = new
                break
            pos = istate[v, _POS]
            length = istate[v, _LEN]
            steps = min(n - k, length - 1 - pos)  # samples whose step stays inside the segment
            if steps > 0:
                coef = fstate[v, _COEF]
                if coef < 0.0:
                    start = fstate[v, _START]
                    span = fstate[v, _TARGET] - start
                    for j in range(steps):
                        row[k + j] = level
                        level = start + span * ((pos + 1 + j) / length)
                else:
                    over = fstate[v, _OVER]
                    dq = fstate[v, _DQ]
                    cb = fstate[v, _CB]
                    pv = ptab[v]
                    row[k] = level
                    j = 1  # row[k + j] is the level after j steps (position pos + j)
                    while j <= steps:
                        r = (pos + j) & (_RUN - 1)
                        if r == 0:
                            dq *= cb
                        run = min(steps + 1 - j, _RUN - r)  # positions in this run of _RUN
                        last = j + run - 1
                        cnt = run if last < steps else run - 1
                        dst = row[k + j:k + j + cnt]
                        src = pv[r:r + cnt]
                        for i in range(cnt):
                            dst[i] = over + dq * src[i]
                        if last == steps:
                            level = over + dq * pv[r + run - 1]
                        j += run
                    fstate[v, _DQ] = dq
                k += steps
                pos += steps
                istate[v, _POS] = pos
            if k < n:
                # the segment's last step: arrive exactly at the target, then move on
                row[k] = level
                k += 1
                level = fstate[v, _TARGET]
                fstate[v, _LEVEL] = level
                if seg == hold:
                    istate[v, _HOLDING] = 1
                else:
                    _begin_segment(v, seg + 1, fstate, istate, targets, lengths, ratios, hold, ptab)
                    level = fstate[v, _LEVEL]
        fstate[v, _LEVEL] = level


class _SegmentRunner(Processor):
    """Shared state handling of the segment kernel (not public)."""

    def _alloc(self, voices: int, n_segments: int) -> None:
        self.voices = voices
        self._targets = np.zeros((voices, n_segments))
        self._lengths = np.zeros((voices, n_segments), dtype=np.int64)
        self._ratios = np.zeros((voices, n_segments))

    def _reset_state(self) -> None:
        self._fstate = np.zeros((self.voices, 7))
        self._ptab = np.zeros((self.voices, _RUN))
        self._istate = np.zeros((self.voices, 5), dtype=np.int64)
        self._istate[:, _SEG] = self._targets.shape[1]  # finished
        self._istate[:, _PENDING] = -1
        self._idle = None

    def _check_voice(self, voice: int) -> int:
        if not (isinstance(voice, (int, np.integer)) and 0 <= voice < self.voices):
            raise ParameterError(f"voice must be an integer in [0, {self.voices - 1}], got {voice!r}")
        return int(voice)

    def _run(self, n: int, hold: int, hold_coef: float) -> np.ndarray:
        out = np.empty((self.voices, int(n)))
        _segment_kernel(self._fstate, self._istate, self._targets, self._lengths, self._ratios,
                        hold, hold_coef, self._ptab, out)
        self._idle = None
        return out

    @property
    def level(self) -> np.ndarray:
        """(voices,) current level: the value the next block starts from."""
        return self._fstate[:, _LEVEL].copy()

    @property
    def idle(self) -> np.ndarray:
        """(voices,) bool: the voice has finished its last segment and nothing is pending."""
        if self._idle is None:  # cached until the state changes (asked several times per block)
            idle = (self._istate[:, _SEG] >= self._targets.shape[1]) & (self._istate[:, _PENDING] < 0)
            idle.flags.writeable = False
            self._idle = idle
        return self._idle


def _check_voices(voices: int) -> int:
    if int(voices) != voices or voices < 1:
        raise ParameterError(f"voices must be an integer >= 1, got {voices!r}")
    return int(voices)


class AdsrEnvelope(_SegmentRunner):
    """Per-voice ADSR: peak ``velocity`` at ``attack_ms``, ``sustain * velocity`` at attack + decay.

    Segments start from the current level, so retrigger and release never jump. A
    retrigger from level ``y0`` shortens the attack to ``attack_ms * (1 - y0 / velocity)``
    (constant rate, as analog ADSRs do); a retrigger at or above the new peak goes straight
    to the decay. Decay and release always take their full time (``release_ms`` is the
    time to reach 0 from any level). Curves: see the module docstring.

    Parameters
    ----------
    sample_rate : int
    voices : int >= 1
    attack_ms, decay_ms, release_ms : float in [0, 600000]
    sustain : float in [0, 1], fraction of the velocity
    curve : {"exponential", "linear"}

    Raises
    ------
    ParameterError
        For a value out of range or an unknown curve.

    Examples
    --------
    >>> env = AdsrEnvelope(8000, voices=1, attack_ms=0.25, decay_ms=0.25, sustain=0.5, curve="linear")
    >>> env.gate_on(0); env.process(6)
    array([[0.  , 0.5 , 1.  , 0.75, 0.5 , 0.5 ]])
    """

    def __init__(self, sample_rate: int, *, voices: int, attack_ms: float = 5.0,
                 decay_ms: float = 100.0, sustain: float = 0.7, release_ms: float = 200.0,
                 curve: str = "exponential") -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self._alloc(_check_voices(voices), 3)  # attack, decay (then hold), release
        self._velocity = np.ones(self.voices)
        self._fast = np.zeros(self.voices, dtype=bool)
        self.attack_ms, self.decay_ms, self.sustain, self.release_ms = 5.0, 100.0, 0.7, 200.0
        self.curve = "exponential"
        self._hold_coef = 1.0 - np.exp(-1000.0 / (HOLD_SMOOTHING_MS * self.sample_rate))
        self.set(attack_ms=attack_ms, decay_ms=decay_ms, sustain=sustain, release_ms=release_ms,
                 curve=curve)
        self.reset()

    def set(self, **params) -> None:
        """Change ``attack_ms``, ``decay_ms``, ``sustain``, ``release_ms`` or ``curve``.

        Running segments finish with their old shape; later segments use the new values;
        voices holding the sustain level glide to the new one (5 ms one-pole).

        Raises
        ------
        ParameterError
            For an unknown name or a value out of range.
        """
        for name, value in params.items():
            if name in ("attack_ms", "decay_ms", "release_ms"):
                setattr(self, name, check_range(name, value, 0.0, 600000.0))
            elif name == "sustain":
                self.sustain = check_range("sustain", value, 0.0, 1.0)
            elif name == "curve":
                if value not in CURVES:
                    raise ParameterError(f"curve must be one of {', '.join(CURVES)}, got {value!r}")
                self.curve = value
            else:
                raise ParameterError(
                    f"unknown AdsrEnvelope parameter {name!r}; known: attack_ms, decay_ms, "
                    "sustain, release_ms, curve")
        fs = self.sample_rate
        self._attack_n = _ms_to_samples(self.attack_ms, fs)
        self._targets[:, 1] = self.sustain * self._velocity
        self._lengths[:, 1] = _ms_to_samples(self.decay_ms, fs)
        expo = self.curve == "exponential"
        self._ratios[:, 0] = RISE_RATIO if expo else 0.0
        self._ratios[:, 1] = FALL_RATIO if expo else 0.0
        normal = ~self._fast  # a pending fast release keeps its own time and shape
        self._lengths[normal, 2] = _ms_to_samples(self.release_ms, fs)
        self._ratios[normal, 2] = FALL_RATIO if expo else 0.0

    def reset(self) -> None:
        """All voices idle at level 0."""
        self._reset_state()
        self._fast[:] = False
        self._velocity[:] = 1.0
        self.set()  # restores per-voice release times and shapes

    def gate_on(self, voice: int, velocity: float = 1.0) -> None:
        """Start (or retrigger) the attack of ``voice`` at the first sample of the next block."""
        v = self._check_voice(voice)
        vel = check_range("velocity", velocity, 0.0, 1.0)
        self._velocity[v] = vel
        self._targets[v, 0] = vel
        self._targets[v, 1] = self.sustain * vel
        self._targets[v, 2] = 0.0
        self._lengths[v, 2] = _ms_to_samples(self.release_ms, self.sample_rate)
        self._ratios[v, 2] = FALL_RATIO if self.curve == "exponential" else 0.0
        self._fast[v] = False
        y0 = self._fstate[v, _LEVEL]
        if y0 >= vel and y0 > 0.0:  # already at or above the new peak: decay from here
            self._istate[v, _PENDING] = 1
            self._idle = None
        else:
            frac = 1.0 - y0 / vel if vel > 0.0 else 0.0
            self._lengths[v, 0] = int(round(self._attack_n * frac))
            self._istate[v, _PENDING] = 0
            self._idle = None

    def gate_off(self, voice: int) -> None:
        """Release ``voice`` (to 0 in ``release_ms``) from its current level."""
        v = self._check_voice(voice)
        if self.idle[v]:
            return
        self._lengths[v, 2] = _ms_to_samples(self.release_ms, self.sample_rate)
        self._ratios[v, 2] = FALL_RATIO if self.curve == "exponential" else 0.0
        self._fast[v] = False
        self._istate[v, _PENDING] = 2
        self._idle = None

    def fast_release(self, voice: int, release_ms: float = 3.0) -> None:
        """Linear release to 0 in ``release_ms`` (voice stealing); no slope step at its start."""
        v = self._check_voice(voice)
        ms = check_range("release_ms", release_ms, 0.0, 600000.0)
        if self.idle[v]:
            return
        self._lengths[v, 2] = _ms_to_samples(ms, self.sample_rate)
        self._ratios[v, 2] = FAST_RELEASE_RATIO
        self._fast[v] = True
        self._istate[v, _PENDING] = 2
        self._idle = None

    def process(self, n: int) -> np.ndarray:
        """Render ``n`` samples of every voice.

        Returns
        -------
        ndarray, shape (voices, n), float64, in [0, velocity]
        """
        return self._run(n, 1, self._hold_coef)


class SegmentEnvelope(_SegmentRunner):
    """Multi-segment one-shot envelope through breakpoints ``(time_ms, level)``, per voice.

    ``time_ms`` is measured from the trigger and must not decrease; segment ``i`` runs
    from the level the voice is at to ``level_i * scale``, arriving at ``time_ms_i``
    (so a first point ``(0, x)`` sets the start level ``x``; a first point with a
    positive time glides from wherever the voice is, which is click-free on retrigger).
    With ``sustain_index = s`` the envelope holds at point ``s`` until :meth:`release`,
    then plays the rest with the same relative timing, from the current level. Without a
    sustain point :meth:`release` does nothing. After the last point the level is held
    and the voice is :attr:`idle`.

    Parameters
    ----------
    sample_rate : int
    voices : int >= 1
    points : sequence of (time_ms >= 0, level) pairs, at least one
    curve : {"exponential", "linear"} or a sequence of them, one per point
    sustain_index : int in [0, len(points) - 1] or None

    Raises
    ------
    ParameterError
        For decreasing times, non-finite levels, an unknown curve or a bad index.

    Examples
    --------
    >>> env = SegmentEnvelope(8000, voices=1, points=[(0, 1.0), (0.5, 0.0)], curve="linear")
    >>> env.trigger(0); env.process(6)
    array([[1.  , 0.75, 0.5 , 0.25, 0.  , 0.  ]])
    """

    def __init__(self, sample_rate: int, *, voices: int, points: Sequence[tuple[float, float]],
                 curve: str | Sequence[str] = "exponential", sustain_index: int | None = None) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        pts = [(float(t), float(y)) for t, y in points]
        if not pts:
            raise ParameterError("points must hold at least one (time_ms, level) pair, got []")
        times = np.array([t for t, _ in pts])
        levels = np.array([y for _, y in pts])
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(levels))) or times[0] < 0 \
                or np.any(np.diff(times) < 0):
            raise ParameterError(
                f"points need finite levels and times >= 0 that do not decrease, got {pts}")
        curves = [curve] * len(pts) if isinstance(curve, str) else list(curve)
        if len(curves) != len(pts) or any(c not in CURVES for c in curves):
            raise ParameterError(
                f"curve must be one of {', '.join(CURVES)} or one per point ({len(pts)}), got {curve!r}")
        if sustain_index is not None and not (
                isinstance(sustain_index, (int, np.integer)) and 0 <= sustain_index < len(pts)):
            raise ParameterError(
                f"sustain_index must be None or in [0, {len(pts) - 1}], got {sustain_index!r}")
        self.points = tuple(pts)
        self.curve = curve
        self.sustain_index = sustain_index
        self._alloc(_check_voices(voices), len(pts))
        frames = np.array([_ms_to_samples(t, self.sample_rate) for t in times], dtype=np.int64)
        self._lengths[:] = np.diff(frames, prepend=0)
        self._levels = levels
        prev = np.concatenate([[0.0], levels[:-1]])
        ratio = np.where(levels >= prev, RISE_RATIO, FALL_RATIO)
        self._ratios[:] = np.where(np.array(curves) == "exponential", ratio, 0.0)
        self._hold = -1 if sustain_index is None else int(sustain_index)
        self.reset()

    def reset(self) -> None:
        """All voices idle at level 0."""
        self._reset_state()

    def trigger(self, voice: int, scale: float = 1.0) -> None:
        """Start the envelope of ``voice`` (levels times ``scale``) at the next block."""
        v = self._check_voice(voice)
        s = float(scale)
        if not np.isfinite(s):
            raise ParameterError(f"scale must be finite, got {scale!r}")
        self._targets[v] = self._levels * s
        self._istate[v, _PENDING] = 0
        self._idle = None

    def release(self, voice: int) -> None:
        """Leave the sustain point (or skip ahead to the segments after it)."""
        v = self._check_voice(voice)
        if self._hold < 0 or self.idle[v]:
            return
        self._istate[v, _PENDING] = self._hold + 1
        self._idle = None

    def process(self, n: int) -> np.ndarray:
        """Render ``n`` samples of every voice.

        Returns
        -------
        ndarray, shape (voices, n), float64
        """
        return self._run(n, self._hold, 0.0)


class Glide(_SegmentRunner):
    """Per-voice portamento: reaches each new target exactly ``time_ms`` later.

    ``mode="exponential"`` follows the clamped one-pole curve of the module docstring with
    ratio 0.01 (99 % of the interval covered well before the end, arriving exactly at
    ``time_ms``); ``"linear"`` is a straight ramp. A new target mid-glide starts from the
    current value. The first target of a voice after :meth:`reset` jumps.

    Parameters
    ----------
    sample_rate : int
    voices : int >= 1
    time_ms : float in [0, 600000]
    mode : {"exponential", "linear"}

    Examples
    --------
    >>> g = Glide(8000, voices=1, time_ms=0.5, mode="linear")
    >>> g.set_target(0, 60.0); g.process(1)
    array([[60.]])
    >>> g.set_target(0, 62.0); g.process(5)
    array([[60. , 60.5, 61. , 61.5, 62. ]])
    """

    GLIDE_RATIO = 0.01

    def __init__(self, sample_rate: int, *, voices: int, time_ms: float = 60.0,
                 mode: str = "exponential") -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self._alloc(_check_voices(voices), 1)
        self.time_ms, self.mode = 60.0, "exponential"
        self.set(time_ms=time_ms, mode=mode)
        self.reset()

    def set(self, *, time_ms: float | None = None, mode: str | None = None) -> None:
        """Change glide time or mode (used by the next target)."""
        if time_ms is not None:
            self.time_ms = check_range("time_ms", time_ms, 0.0, 600000.0)
        if mode is not None:
            if mode not in CURVES:
                raise ParameterError(f"mode must be one of {', '.join(CURVES)}, got {mode!r}")
            self.mode = mode
        self._lengths[:, 0] = _ms_to_samples(self.time_ms, self.sample_rate)
        self._ratios[:, 0] = self.GLIDE_RATIO if self.mode == "exponential" else 0.0

    def reset(self) -> None:
        """All voices at 0 with no target; the next target jumps."""
        self._reset_state()
        self._has_value = np.zeros(self.voices, dtype=bool)

    def set_target(self, voice: int, value: float, *, jump: bool = False) -> None:
        """Glide ``voice`` to ``value`` from the next block on (``jump``: arrive at once)."""
        v = self._check_voice(voice)
        x = float(value)
        if not np.isfinite(x):
            raise ParameterError(f"value must be finite, got {value!r}")
        self._targets[v, 0] = x
        if jump or not self._has_value[v]:
            self._fstate[v, _LEVEL] = x
            self._istate[v, _SEG] = 1
            self._istate[v, _PENDING] = -1
            self._idle = None
        else:
            self._istate[v, _PENDING] = 0
            self._idle = None
        self._has_value[v] = True

    def process(self, n: int) -> np.ndarray:
        """Render ``n`` samples of every voice.

        Returns
        -------
        ndarray, shape (voices, n), float64
        """
        return self._run(n, -1, 0.0)
