"""Render limits and up-front estimates: duration, voices, sample rate, memory, time, disk.

A score that passes validation can still ask for far more than a machine can give (10 000
bars at 20 bpm is 33 hours of audio; 64 sections of 64 voices). :func:`check_limits`
estimates what a render needs *before* any audio is made and refuses it with the
estimate in the message; ``symphony render --allow-large`` lifts the limits.

The estimates are deliberately simple, documented models (see ``docs/reliability.md``):

- **frames**: the tempo map's frame of the score's end plus the tail (exact, as the Conductor).
- **memory**: the interpreter and libraries (``BASE_MEMORY_BYTES``), the realized notes and
  their timeline (``BYTES_PER_NOTE``), the per-block buffers of every section, bus and stem
  (float64, ``(2, block_size)``), per-voice temporaries, and the state of each effect bus.
  Rendering streams to disk, so memory does not grow with duration.
- **time**: CPU seconds per second of audio = ``VOICE_COST`` per voice (every voice assumed
  sounding) + ``SECTION_COST`` per section + ``BUS_COST`` per bus, scaled by
  ``sample_rate / 48000``; plus ``LOUDNESS_PASS_COST`` per loudness pass. Calibrated on
  ``scores/example-01-foundry.toml`` (54 voices, 5 sections, 2 buses at 48 kHz: estimated
  21.9 s, measured 20.5 s on one busy core).
- **disk**: the output file (and stems) at the output depth, plus the float scratch files
  of a loudness-normalized render; the previous render stays until the rename, so all of
  it must fit next to it.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from symphony.errors import ParameterError, RenderError
from symphony.score.model import Score
from symphony.tempo import TempoMap

#: Default limits (``symphony render --max-minutes/--max-voices``; ``--allow-large`` lifts all).
MAX_MINUTES = 60.0
MAX_VOICES = 512
MAX_SAMPLE_RATE = 96000
MAX_MEMORY_BYTES = 4 * 1024**3
MAX_RENDER_MINUTES = 60.0

#: Memory model (bytes).
BASE_MEMORY_BYTES = 200 * 1024**2   # python + numpy + scipy + numba + soundfile, measured ~180 MB
BYTES_PER_NOTE = 600                # Note dataclass + 2 timeline rows + event arrays
VOICE_TEMPORARIES = 8               # (block_size,) float64 temporaries per voice while rendering
BUFFERS_PER_SECTION = 4             # instrument out, faded copy, sends, compressor: (2, block) each
BUS_STATE_SECONDS = 4.0             # delay lines / reverb state, stereo float64, per bus

#: Time model (CPU seconds per second of audio at 48 kHz).
VOICE_COST = 0.005
SECTION_COST = 0.01
BUS_COST = 0.02
LOUDNESS_PASS_COST = 0.02           # gain + true-peak limiter + meter, per pass
LOUDNESS_PASSES = 2                 # typical (at most render.MAX_LOUDNESS_PASSES)


@dataclass(frozen=True)
class Limits:
    """What a render may ask for. ``None`` disables one limit; :meth:`unlimited` disables all.

    Parameters
    ----------
    max_minutes : float > 0 or None
        Longest audio (score plus tail), minutes.
    max_voices : int > 0 or None
        Total polyphony: the sum of every section's ``voices``.
    max_sample_rate : int or None
        Highest output rate, Hz.
    max_memory_bytes, max_render_minutes : or None
        Largest estimated memory and wall time of the render.
    """

    max_minutes: float | None = MAX_MINUTES
    max_voices: int | None = MAX_VOICES
    max_sample_rate: int | None = MAX_SAMPLE_RATE
    max_memory_bytes: int | None = MAX_MEMORY_BYTES
    max_render_minutes: float | None = MAX_RENDER_MINUTES

    def __post_init__(self) -> None:
        for name in ("max_minutes", "max_voices", "max_sample_rate", "max_memory_bytes", "max_render_minutes"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ParameterError(f"{name} must be > 0, got {value}")

    @classmethod
    def unlimited(cls) -> "Limits":
        """No limit at all (``--allow-large``)."""
        return cls(None, None, None, None, None)


@dataclass(frozen=True)
class Estimate:
    """What a render of one score needs (see the module docstring for the models)."""

    n_frames: int
    sample_rate: int
    voices: int
    n_stems: int
    memory_bytes: int
    render_seconds: float
    disk_bytes: int

    @property
    def minutes(self) -> float:
        return self.n_frames / self.sample_rate / 60.0

    def format(self) -> str:
        """``62:30.0 of audio (180000000 frames at 48000 Hz), 160 voices, ~1.2 GB memory, ...``"""
        return (f"{_clock(self.n_frames / self.sample_rate)} of audio ({self.n_frames} frames at "
                f"{self.sample_rate} Hz), {self.voices} voices, ~{_size(self.memory_bytes)} memory, "
                f"~{_clock(self.render_seconds)} to render, ~{_size(self.disk_bytes)} on disk")


class LimitError(ParameterError):
    """A render the limits refuse (bad input: exit status 2). ``format()`` is compiler-style."""

    def __init__(self, path: str, message: str, hint: str) -> None:
        self.path, self.message, self.hint = str(path), message, hint
        super().__init__(self.format())

    def format(self) -> str:
        return f"{self.path}: error: {self.message}\n  hint: {self.hint}"


def estimate(score: Score, *, sample_rate: int | None = None, block_size: int = 4096, stems: bool = False,
             bits: int = 24, lufs: float | None = None) -> Estimate:
    """Estimate frames, memory, time and disk of rendering ``score`` (no audio is made).

    Parameters
    ----------
    score : Score
    sample_rate : int, optional
        Output rate; default the score's.
    block_size : int
    stems : bool
    bits : {16, 24, 32}
    lufs : float or None
        A loudness target (``None``: the score's ``[master] lufs``, if any).

    Returns
    -------
    Estimate

    Examples
    --------
    >>> from symphony.catalog import load
    >>> estimate(load("x.toml", text='[chapter]\\ntitle = "T"\\nbars = 4')).n_frames   # doctest: +SKIP
    528000
    """
    sample_rate = int(sample_rate or score.sample_rate)
    tempo_map = TempoMap(score.tempos, sample_rate)
    n_frames = tempo_map.frame_at(score.end_beat) + int(round(score.tail_seconds * sample_rate))
    voices = sum(s.voices for s in score.sections)
    n_sections, n_buses = len(score.sections), len(score.buses)
    n_stems = n_sections + n_buses if stems else 0
    block = 2 * block_size * 8
    memory = (BASE_MEMORY_BYTES + BYTES_PER_NOTE * len(score.notes)
              + block * (BUFFERS_PER_SECTION * n_sections + 2 * n_buses + 4 + n_stems)
              + voices * block_size * 8 * VOICE_TEMPORARIES
              + n_buses * int(BUS_STATE_SECONDS * sample_rate) * 2 * 8)
    seconds = n_frames / sample_rate
    scale = sample_rate / 48000.0
    normalized = (lufs if lufs is not None else score.master.lufs) is not None
    cpu = seconds * scale * (VOICE_COST * voices + SECTION_COST * n_sections + BUS_COST * n_buses)
    if normalized:
        cpu += seconds * scale * LOUDNESS_PASS_COST * LOUDNESS_PASSES
    out_bytes = n_frames * 2 * bits // 8
    disk = out_bytes * (1 + n_stems)
    if normalized:
        disk += n_frames * 2 * 8 + n_stems * n_frames * 2 * 4  # float64 pre-master + float32 stems
    return Estimate(n_frames, sample_rate, voices, n_stems, int(memory), float(cpu), int(disk))


def check_limits(score: Score, limits: Limits, *, sample_rate: int | None = None, block_size: int = 4096,
                 stems: bool = False, bits: int = 24, lufs: float | None = None) -> Estimate:
    """Estimate the render of ``score`` and refuse it if it exceeds ``limits``.

    Returns
    -------
    Estimate

    Raises
    ------
    LimitError
        Naming the first limit exceeded, with the whole estimate and the flag that lifts it.
    """
    est = estimate(score, sample_rate=sample_rate, block_size=block_size, stems=stems, bits=bits, lufs=lufs)
    lift = "or pass --allow-large to lift every limit"
    found = None
    if limits.max_sample_rate is not None and est.sample_rate > limits.max_sample_rate:
        found = (f"sample rate {est.sample_rate} Hz exceeds the limit of {limits.max_sample_rate} Hz",
                 f"render at a lower rate (--sr 48000), {lift}")
    elif limits.max_minutes is not None and est.minutes > limits.max_minutes:
        found = (f"the render would last {_clock(est.minutes * 60)} (incl. {score.tail_seconds:g} s tail), "
                 f"over the limit of {_clock(limits.max_minutes * 60)}",
                 f"check chapter.bars and the tempo, raise the limit with --max-minutes "
                 f"{math.ceil(est.minutes)}, {lift}")
    elif limits.max_voices is not None and est.voices > limits.max_voices:
        counts = ", ".join(f"{s.name} {s.voices}" for s in score.sections[:6])
        more = ", ..." if len(score.sections) > 6 else ""
        found = (f"the score asks for {est.voices} voices in {len(score.sections)} sections "
                 f"({counts}{more}), over the limit of {limits.max_voices}",
                 f"lower section voices, raise the limit with --max-voices {est.voices}, {lift}")
    elif limits.max_memory_bytes is not None and est.memory_bytes > limits.max_memory_bytes:
        found = (f"the render would need ~{_size(est.memory_bytes)} of memory, over the limit of "
                 f"{_size(limits.max_memory_bytes)}",
                 f"render without --stems, with a smaller --block-size or fewer notes, {lift}")
    elif limits.max_render_minutes is not None and est.render_seconds > limits.max_render_minutes * 60:
        found = (f"the render would take ~{_clock(est.render_seconds)} on one core, over the limit of "
                 f"{_clock(limits.max_render_minutes * 60)}",
                 f"use fewer voices or a lower --sr, {lift}")
    if found:
        message, hint = found
        raise LimitError(score.path, f"render refused: {message}; estimate: {est.format()}", hint)
    return est


def check_disk_space(est: Estimate, out_dir: str | os.PathLike, *, path: str = "") -> None:
    """Refuse a render whose estimated files do not fit in the free space of ``out_dir``.

    Raises
    ------
    RenderError
        With the estimate and the free space.
    """
    folder = Path(out_dir).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # the writer reports a real problem with the folder
    if est.disk_bytes > free:
        where = f"{path}: " if path else ""
        raise RenderError(f"{where}not enough disk space in {out_dir}: the render needs "
                          f"~{_size(est.disk_bytes)}, {_size(free)} free ({est.format()}); "
                          f"free some space or choose another --out-dir")


def _clock(seconds: float) -> str:
    """``1:02:03.5`` / ``2:03.5``."""
    seconds = float(seconds)
    hours, rest = divmod(seconds, 3600.0)
    minutes, sec = divmod(rest, 60.0)
    if hours >= 1:
        return f"{int(hours)}:{int(minutes):02d}:{sec:04.1f}"
    return f"{int(minutes)}:{sec:04.1f}"


def _size(n_bytes: float) -> str:
    """Bytes in B/kB/MB/GB/TB (powers of 1024)."""
    n = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024.0:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} TB"
