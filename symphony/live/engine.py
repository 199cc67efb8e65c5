"""The live performance: Conductor blocks, switches at bar lines, master chain -> float32.

Pure numpy (no pyo): a loop, a jump, a hot reload or a tempo nudge is a *switch*: a fresh
Conductor, prepared in a worker thread, takes over at a bar line (sample-accurate) while
the old one fades out over ``SWITCH_FADE_MS``; the master chain runs on unbroken.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

from symphony.conductor import Conductor, SectionGains
from symphony.errors import ParameterError, SymphonyError
from symphony.score.model import Score

BACKENDS = ("jack", "portaudio")
#: Default render-ahead: audio the renderer keeps ready for the audio thread (the ring's
#: depth; ``symphony play --ahead MS``). Measured on a 2-core VM (docs/live.md, "Latency").
DEFAULT_AHEAD_MS = 300.0
RING_SECONDS = DEFAULT_AHEAD_MS / 1000.0
AHEAD_RANGE_MS = (1.0, 5000.0)
MAX_BLOCK = 4096
#: Frames the Conductor and the master chain render per call (rounded to whole blocks):
#: the block loop's per-call cost is paid once per chunk. The ring must hold more than
#: a chunk's render time (see docs/live.md, "Latency").
RENDER_CHUNK = 1024
#: Fade-out of the old performance at a switch (loop, jump, reload, nudge).
SWITCH_FADE_MS = 30.0
#: Mute/solo ramp.
MUTE_RAMP_MS = 15.0
#: A switch waits for the first bar line at least this far ahead of the render position,
#: so that the new performance is prepared in time.
SWITCH_LEAD_MS = 400.0
TEMPO_SCALE_RANGE = (0.5, 2.0)
#: Niceness the render process asks for (it sleeps whenever the ring is full, so a
#: higher priority cannot take more than the real-time share of one core).
RENDER_NICE = -10
#: SCHED_RR priority asked for the render and player threads (JACK's threads run higher).
RENDER_RT_PRIORITY = 1
DEFAULT_OSC_PORT = 9000
STATUS_INTERVAL_S = 0.1
#: The player gives up when the audio server has not asked for a block for this long
#: (a VM may stall JACK's dummy driver for 0.3 s; a live server calls every few ms).
AUDIO_STALL_S = 2.0


class NoAudioDeviceError(ParameterError):
    """No audio server or device to play to (exit status 2, no traceback)."""


class AudioServerLostError(SymphonyError):
    """The audio server went away mid-performance (exit status 1, no traceback)."""


NO_JACK_HINT = ("start a JACK server first, e.g. on a machine without a sound card:\n"
                "    jackd -d dummy -r 48000 -p 256 &\n"
                "  (Debian package jackd2; with a sound card: jackd -d alsa -r 48000 -p 256)")


@dataclass(frozen=True)
class PlaySettings:
    """How ``symphony play`` plays a score.

    ``loop`` is an inclusive bar range ``(first, last)``; ``buffer_size`` is the audio
    block in frames (JACK imposes its own period); ``device`` is a PortAudio device name
    (substring) or, for JACK, the prefix of the ports to connect to
    (default ``system:playback_``). ``ahead_ms`` is the render-ahead (the ring's depth,
    rounded up to whole blocks): it must exceed the time a chunk of ``chunk_frames``
    frames takes to render plus the machine's stalls, or the audio thread underruns
    (default chunk: see :func:`chunk_for`).
    """

    backend: str = "jack"
    buffer_size: int = 256
    start_bar: int | None = None
    loop: tuple[int, int] | None = None
    watch: bool = False
    device: str | None = None
    record: str | None = None
    seed: int | None = None
    osc_port: int | None = DEFAULT_OSC_PORT
    client_name: str = "symphony"
    ahead_ms: float = DEFAULT_AHEAD_MS
    chunk_frames: int | None = None  # default: chunk_for(...)

    def __post_init__(self) -> None:
        lo, hi = AHEAD_RANGE_MS
        if not lo <= self.ahead_ms <= hi:
            raise ParameterError(f"--ahead must be in [{lo:g}, {hi:g}] ms, got {self.ahead_ms:g}")
        if self.chunk_frames is not None and not 1 <= self.chunk_frames <= MAX_BLOCK:
            raise ParameterError(f"--chunk must be in [1, {MAX_BLOCK}] frames, got {self.chunk_frames}")
        if self.backend not in BACKENDS:
            raise ParameterError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not 16 <= self.buffer_size <= MAX_BLOCK:
            raise ParameterError(f"buffer must be in [16, {MAX_BLOCK}] frames, got {self.buffer_size}")
        if self.loop is not None and not 1 <= self.loop[0] <= self.loop[1]:
            raise ParameterError(f"loop must be FIRST-LAST bars with 1 <= FIRST <= LAST, got "
                                 f"{self.loop[0]}-{self.loop[1]}")


def chunk_for(ahead_frames: int, block_size: int) -> int:
    """Default render chunk: ``RENDER_CHUNK`` frames, but no more than the render-ahead.

    A chunk is rendered in one call while the ring drains; at the engine's 5-30 % of real
    time a chunk no longer than the ring renders in well under the ring's duration.

    Examples
    --------
    >>> chunk_for(640, 128), chunk_for(4800, 256)
    (640, 1024)
    """
    return max(int(block_size), min(RENDER_CHUNK, int(ahead_frames)))


def parse_loop(text: str | None) -> tuple[int, int] | None:
    """``"17-32"`` -> ``(17, 32)``; a single bar ``"5"`` loops that bar.

    Examples
    --------
    >>> parse_loop("17-32")
    (17, 32)
    """
    if text is None:
        return None
    first, _, last = text.partition("-")
    try:
        bars = (int(first), int(last or first))
    except ValueError:
        raise ParameterError(f"--loop takes bars as FIRST-LAST, e.g. 17-32, got {text!r}") from None
    return bars


class _Stream:
    """One Conductor performance from ``start_frame``, read in any lengths (pre-master mix)."""

    def __init__(self, conductor: Conductor, start_frame: int, chunk_size: int,
                 gains: dict[str, float], ramp_frames: int) -> None:
        self.conductor = conductor
        self.start_frame = self.frame = int(start_frame)
        self.end_frame = conductor.n_frames
        self.gains = SectionGains(conductor.orchestra.section_names, ramp_frames=ramp_frames)
        self.set_gains(gains, immediate=True)
        # The Conductor renders whole chunks (its per-call cost is paid once per chunk);
        # the output does not depend on the chunk size (the offline render is block-size
        # invariant), and a switch may cut a chunk anywhere.
        self._blocks = conductor.blocks(chunk_size, start_frame=self.start_frame,
                                        section_gains=self.gains)
        self._pending = np.zeros((2, 0))
        self._offset = 0

    def set_gains(self, gains: dict[str, float], *, immediate: bool = False) -> None:
        for name, gain in gains.items():
            if name in self.gains.names:
                self.gains.set_target(name, gain, immediate=immediate)

    def prime(self) -> "_Stream":
        """Render the first block now (builds the timeline), so taking over costs nothing."""
        if self._pending.shape[1] == 0:
            block = next(self._blocks, None)
            if block is not None:
                self._pending, self._offset = block.mix, 0
        return self

    def read(self, out: np.ndarray) -> None:
        """Fill ``out`` (2, k) with the next k frames; silence after the end."""
        k = out.shape[1]
        pos = 0
        while pos < k:
            if self._offset >= self._pending.shape[1]:
                block = next(self._blocks, None)
                if block is None:
                    out[:, pos:] = 0.0
                    break
                self._pending, self._offset = block.mix, 0
            take = min(k - pos, self._pending.shape[1] - self._offset)
            out[:, pos:pos + take] = self._pending[:, self._offset:self._offset + take]
            self._offset += take
            pos += take
        self.frame += k


@dataclass
class _Switch:
    frame: int                  # frame of the current performance where the new one takes over
    future: "Future[_Stream]"
    label: str


@dataclass(frozen=True)
class Position:
    """Where the performance is: 1-based bar and beat (meter unit), tempo."""

    bar: int
    beat: float
    bpm: float


class LiveEngine:
    """The live performance: Conductor blocks, switches, master chain -> float32 blocks.

    Parameters
    ----------
    score : Score
    sample_rate : int
        The audio server's rate (the score is rendered at it).
    block_size : int
        Frames per :meth:`render` call (the audio buffer).
    start_bar : int, optional
        First bar played (default 1, or the loop's first bar).
    loop : (int, int), optional
        Inclusive bar range repeated forever.
    seed : int, optional
    chunk_size : int, optional
        Frames rendered per Conductor call, rounded to whole blocks (default about
        ``RENDER_CHUNK``); most :meth:`render` calls then only copy.
    background : bool
        Prepare switches in a worker thread (live); False prepares them synchronously
        (deterministic tests).

    Examples
    --------
    >>> engine = LiveEngine(score, sample_rate=48000, block_size=256)  # doctest: +SKIP
    >>> out = np.zeros((2, 256), np.float32); engine.render(out)       # doctest: +SKIP
    256
    """

    def __init__(self, score: Score, *, sample_rate: int, block_size: int, start_bar: int | None = None,
                 loop: tuple[int, int] | None = None, seed: int | None = None,
                 chunk_size: int | None = None, background: bool = True) -> None:
        self.sample_rate = int(sample_rate)
        self.block_size = int(block_size)
        chunk = RENDER_CHUNK if chunk_size is None else int(chunk_size)
        if not 1 <= chunk <= MAX_BLOCK:
            raise ParameterError(f"chunk_size must be in [1, {MAX_BLOCK}] frames, got {chunk_size}")
        self.chunk_size = self.block_size * max(1, round(chunk / self.block_size))
        self._seed = seed
        self._score = score
        self._tempo_scale = 1.0
        self._variant_cache: tuple | None = None
        self._mutes: set[str] = set()
        self._solos: set[str] = set()
        self._ramp = max(1, round(MUTE_RAMP_MS * self.sample_rate / 1000))
        fade = max(1, round(SWITCH_FADE_MS * self.sample_rate / 1000))
        self._fade_curve = 0.5 * (1.0 + np.cos(np.pi * np.arange(fade) / fade))
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="symphony-prepare") if background else None
        self.loop = self._check_loop(score, loop)
        bar = start_bar if start_bar is not None else (self.loop[0] if self.loop else 1)
        self._check_bar(score, bar, "--from-bar")
        conductor = self._new_conductor(self._variant())
        self._primary = self._new_stream(conductor, bar).prime()
        self._fading: list[list] = []  # [stream, frames faded so far]
        self._switch: _Switch | None = None
        self._loop_next: Future | None = None
        self._master = conductor.master_chain()
        self._mix = np.zeros((2, self.chunk_size))
        self._tmp = np.zeros((2, self.chunk_size))
        self._out = np.zeros((2, 0))  # master output not yet handed out
        self._out_pos = 0
        self._source_done = False
        self._tail_left: int | None = None  # master latency still to flush after the end
        self.finished = False
        self.messages: list[str] = []
        #: wall and thread-CPU seconds of every chunk rendered (Conductor + master chain)
        self.chunk_seconds: list[float] = []
        self.chunk_cpu_seconds: list[float] = []
        # Prime the master chain with its latency, so that output frame i is mix frame i.
        lat = self._master.latency_frames
        if lat:
            primer = np.zeros((2, lat))
            self._primary.read(primer)
            self._master.process(primer)
        self._prepare_loop()

    def warm_up(self) -> None:
        """Play every instrument once on a throwaway orchestra (bus effects run from the
        first block anyway).

        numba loads a kernel (from its cache) on its first call, which can take a large
        part of a second: done here, before playback, instead of when a section first
        enters mid-performance.
        """
        conductor = self._new_conductor(self._variant())
        voices: dict[str, set] = {}
        for note in conductor.score.notes:
            voices.setdefault(note.section, set()).add(note.voice)
        for strip in conductor.orchestra.strips:
            inst = strip.instrument
            names = sorted(voices.get(strip.section.name, {None}), key=str)
            for i, voice in enumerate(names):
                inst.note_on(i, 60.0, 0.8, voice)
            inst.process(256)
            for i in range(len(names)):
                inst.note_off(i)
            inst.process(256)

    # -- construction helpers
    @staticmethod
    def _check_loop(score: Score, loop):
        if loop is None:
            return None
        first, last = loop
        if not 1 <= first <= last <= score.n_bars:
            raise ParameterError(f"--loop {first}-{last} is outside the score's bars 1-{score.n_bars}")
        return (int(first), int(last))

    @staticmethod
    def _check_bar(score: Score, bar: int, what: str) -> None:
        if not 1 <= bar <= score.n_bars:
            raise ParameterError(f"{what} {bar} is outside the score's bars 1-{score.n_bars}")

    def _variant(self) -> Score:
        """The score with the tempo nudge applied (cached)."""
        key = (id(self._score), self._tempo_scale)
        if self._variant_cache is None or self._variant_cache[0] != key:
            score = self._score
            if self._tempo_scale != 1.0:
                tempos = tuple(dataclasses.replace(t, bpm=min(400.0, max(20.0, t.bpm * self._tempo_scale)))
                               for t in score.tempos)
                score = dataclasses.replace(score, tempos=tempos)
            self._variant_cache = (key, score)
        return self._variant_cache[1]

    def _new_conductor(self, score: Score) -> Conductor:
        return Conductor(score, sample_rate=self.sample_rate, seed=self._seed)

    def _new_stream(self, conductor: Conductor, bar: int) -> _Stream:
        return _Stream(conductor, conductor.frame_of_bar(bar), self.chunk_size, self._gains(), self._ramp)

    def _prepare(self, score: Score, bar: int) -> Future:
        def build() -> _Stream:
            return self._new_stream(self._new_conductor(score), bar).prime()
        if self._executor is None:
            future: Future = Future()
            future.set_result(build())
            return future
        return self._executor.submit(build)

    def _prepare_loop(self) -> None:
        self._loop_next = None
        if self.loop and self._primary.start_frame < self._loop_end():
            self._loop_next = self._prepare(self._variant(), self.loop[0])

    def _loop_end(self) -> int:
        return self._primary.conductor.frame_of_bar(self.loop[1] + 1)

    def _gains(self) -> dict[str, float]:
        names = [s.name for s in self._score.sections]
        return {n: 0.0 if n in self._mutes or (self._solos and n not in self._solos) else 1.0 for n in names}

    # -- controls (called between render calls, from the thread that renders)
    @property
    def score(self) -> Score:
        return self._score

    @property
    def tempo_scale(self) -> float:
        return self._tempo_scale

    def position(self) -> Position:
        """Bar, beat and tempo of the next frame :meth:`render` hands out."""
        c = self._primary.conductor
        frame = self._primary.frame - (self._out.shape[1] - self._out_pos)
        frame = max(self._primary.start_frame, frame)
        beat = c.tempo_map.beat_at_frame(min(frame, c.end_frame))
        bar, beat_in_bar = c.score.beat_to_bar(Fraction(beat))
        return Position(bar, float(beat_in_bar), c.tempo_map.bpm_at(Fraction(beat)))

    def set_mute(self, section: str, on: bool) -> None:
        self._check_section(section)
        (self._mutes.add if on else self._mutes.discard)(section)
        self._apply_gains()

    def set_solo(self, section: str, on: bool) -> None:
        self._check_section(section)
        (self._solos.add if on else self._solos.discard)(section)
        self._apply_gains()

    def _check_section(self, section: str) -> None:
        names = [s.name for s in self._score.sections]
        if section not in names:
            raise ParameterError(f"unknown section {section!r}; sections: {', '.join(names)}")

    def _apply_gains(self) -> None:
        gains = self._gains()
        for stream in [self._primary] + [f[0] for f in self._fading]:
            stream.set_gains(gains)

    def nudge_tempo(self, percent: float) -> None:
        """Scale every tempo by ``1 + percent / 100`` from the next bar line (cumulative)."""
        lo, hi = TEMPO_SCALE_RANGE
        self._tempo_scale = min(hi, max(lo, self._tempo_scale * (1.0 + float(percent) / 100.0)))
        self._schedule(lambda bar: bar, f"tempo x{self._tempo_scale:.3f}")

    def jump_to_bar(self, bar: int) -> None:
        self._check_bar(self._score, bar, "jump to bar")
        self._schedule(lambda _: bar, "jump")

    def jump_to_passage(self, name: str) -> None:
        for p in self._score.passages:
            if p.name == name:
                return self._schedule(lambda _: p.bar, f"jump to passage '{name}'")
        names = ", ".join(p.name for p in self._score.passages)
        raise ParameterError(f"unknown passage {name!r}; passages: {names}")

    def jump_by_passages(self, step: int) -> None:
        """Jump to the start of the passage ``step`` passages after (or before) the current one."""
        bars = sorted({p.bar for p in self._score.passages})
        if not bars:
            return
        here = self.position().bar
        current = max([i for i, b in enumerate(bars) if b <= here], default=0)
        target = bars[min(len(bars) - 1, max(0, current + step))]
        self._schedule(lambda _: target, "jump")

    def reload(self, score: Score) -> None:
        """Switch to a new version of the score at the next bar line (same bar number)."""
        self._score = score
        self._mutes &= {s.name for s in score.sections}
        self._solos &= {s.name for s in score.sections}
        self._schedule(lambda bar: min(bar, score.n_bars), f"reloaded {Path(score.path).name}")

    def _schedule(self, target_bar: Callable[[int], int], label: str) -> None:
        """Prepare a switch at the first bar line ``SWITCH_LEAD_MS`` ahead of the render position."""
        c = self._primary.conductor
        ahead = self._primary.frame + round(SWITCH_LEAD_MS * self.sample_rate / 1000)
        if ahead >= c.end_frame:
            at_frame, bar = ahead, c.score.n_bars + 1
        else:
            bar = c.score.beat_to_bar(Fraction(c.tempo_map.beat_at_frame(ahead)))[0] + 1
            at_frame = c.frame_of_bar(bar)
        if self.loop and self._primary.start_frame < self._loop_end() and bar == self.loop[1] + 1:
            bar = self.loop[0]  # the bar line is the loop's end: go round in the new version
        score = self._variant()
        target = min(target_bar(bar), score.n_bars)
        self._switch = _Switch(at_frame, self._prepare(score, target), f"{label} at bar {target}")
        self.messages.append(f"{self._switch.label} (from the next bar line)")

    # -- rendering
    def render(self, out: np.ndarray) -> int:
        """Write the next block into ``out`` ((2, block_size) float32); return the frames played.

        Returns ``block_size`` while playing, fewer on the last block (the rest is zeroed)
        and 0 once the performance has finished. The Conductor and the master chain run
        ``chunk_size`` frames at a time (a few blocks: the per-call overhead of the
        block loop is paid once per chunk), so most calls only copy.
        """
        n = out.shape[1]
        got = 0
        while got < n:
            if self._out_pos >= self._out.shape[1]:
                if self._source_done:
                    self.finished = True
                    break
                t0, c0 = time.perf_counter(), time.thread_time()
                m = self._fill_mix(self._mix)
                self._out = self._master.process(self._mix[:, :m])
                self._out_pos = 0
                self.chunk_seconds.append(time.perf_counter() - t0)
                self.chunk_cpu_seconds.append(time.thread_time() - c0)
                continue
            take = min(n - got, self._out.shape[1] - self._out_pos)
            out[:, got:got + take] = self._out[:, self._out_pos:self._out_pos + take]
            self._out_pos += take
            got += take
        out[:, got:] = 0.0
        return got

    def _fill_mix(self, mix: np.ndarray) -> int:
        k = mix.shape[1]
        pos = 0
        while pos < k:
            if self._tail_left is not None:  # the end: flush the master chain's latency
                z = min(k - pos, self._tail_left)
                mix[:, pos:pos + z] = 0.0
                self._add_fading(mix[:, pos:pos + z])
                self._tail_left -= z
                pos += z
                if self._tail_left == 0:
                    self._source_done = True
                    return pos
                continue
            primary = self._primary
            limit = k - pos
            switch_at = self._next_switch_frame()
            if switch_at is not None:
                if switch_at <= primary.frame:
                    self._take_over()
                    continue
                limit = min(limit, switch_at - primary.frame)
            if primary.frame >= primary.end_frame:
                self._tail_left = self._master.latency_frames
                continue
            limit = min(limit, primary.end_frame - primary.frame)
            seg = mix[:, pos:pos + limit]
            primary.read(seg)
            self._add_fading(seg)
            pos += limit
        return pos

    def _next_switch_frame(self) -> int | None:
        frames = []
        if self._switch is not None:
            frames.append(self._switch.frame)
        if self._loop_next is not None:
            frames.append(self._loop_end())
        return min(frames) if frames else None

    def _take_over(self) -> None:
        loop_end = self._loop_end() if self._loop_next is not None else None
        if self._switch is not None and (loop_end is None or self._switch.frame <= loop_end):
            switch, self._switch = self._switch, None
            future, label = switch.future, switch.label
        else:
            future, label = self._loop_next, None
        try:
            stream = future.result()  # normally ready: prepared SWITCH_LEAD_MS ahead
        except Exception as exc:  # a broken new version must not stop the music
            self.messages.append(f"error: cannot switch ({label or 'loop'}): {exc}")
            if future is self._loop_next:  # cannot go round: play on to the end
                self._loop_next = None
                self.loop = None
            return
        stream.set_gains(self._gains(), immediate=True)
        self._fading.append([self._primary, 0])
        self._primary = stream
        self._prepare_loop()

    def _add_fading(self, seg: np.ndarray) -> None:
        if not self._fading:
            return
        k = seg.shape[1]
        curve = self._fade_curve
        for entry in self._fading:
            stream, done = entry
            m = min(k, curve.size - done)
            if m > 0:
                tmp = self._tmp[:, :m]
                stream.read(tmp)
                tmp *= curve[done:done + m]
                seg[:, :m] += tmp
                entry[1] = done + m
        self._fading = [e for e in self._fading if e[1] < curve.size]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
