"""The render side: a shared-memory block ring and the render process that fills it.

The render process is forked before the audio server starts; it owns the
:class:`~symphony.live.engine.LiveEngine` and obeys control messages from a pipe.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from symphony.errors import ParameterError, ScoreError, SymphonyError
from symphony.live.engine import (MAX_BLOCK, RENDER_NICE, RENDER_RT_PRIORITY, RING_SECONDS, LiveEngine,
                                  PlaySettings)


class BlockRing:
    """Single-producer single-consumer ring of stereo float32 blocks in shared memory.

    An anonymous ``MAP_SHARED`` mapping, created before the render process is forked, so
    both processes see the same pages. ``counters[WRITE]`` is written only by the
    producer, after the slot's data; ``counters[READ]``/``counters[UNDERRUNS]`` only by the
    consumer. Aligned 8-byte stores are atomic on the platforms pyo runs on, so neither
    side takes a lock.
    """

    WRITE, READ, UNDERRUNS, FINISHED, FRAMES, BLOCK, SLOTS, CALLBACKS = range(8)
    #: per-slot metadata: bar, beat, bpm, render time of the block (s)
    META = 4
    #: stats: last chunk's render time as a share of its duration, the worst such share,
    #: render calls
    STATS = 4

    def __init__(self, max_slots: int = 1024, max_block: int = MAX_BLOCK) -> None:
        self.max_slots = int(max_slots)
        self.max_block = int(max_block)
        sizes = [8 * 8, 8 * self.STATS, 8 * self.max_slots * self.META,
                 4 * self.max_slots * 2 * self.max_block]
        self._map = mmap.mmap(-1, sum(sizes))
        buf, offset = memoryview(self._map), 0
        views = []
        for size, dtype in zip(sizes, (np.int64, np.float64, np.float64, np.float32)):
            views.append(np.frombuffer(buf[offset:offset + size], dtype=dtype))
            offset += size
        self.counters = views[0]
        self.stats = views[1]
        self.meta = views[2].reshape(self.max_slots, self.META)
        self._data = views[3].reshape(self.max_slots, 2, self.max_block)
        self.configure(min(256, self.max_block), self.max_slots)

    def configure(self, block_size: int, n_slots: int) -> None:
        """Set the block size and depth (before the producer starts)."""
        if not 1 <= block_size <= self.max_block:
            raise ParameterError(f"block size must be in [1, {self.max_block}], got {block_size}")
        self.counters[self.BLOCK] = block_size
        self.counters[self.SLOTS] = max(2, min(self.max_slots, int(n_slots)))

    @property
    def block_size(self) -> int:
        return int(self.counters[self.BLOCK])

    @property
    def n_slots(self) -> int:
        return int(self.counters[self.SLOTS])

    def slot(self, index: int) -> np.ndarray:
        """The (2, block_size) float32 view of slot ``index % n_slots``."""
        return self._data[index % self.n_slots, :, :self.block_size]

    def fill_level(self) -> int:
        return int(self.counters[self.WRITE] - self.counters[self.READ])

    def reset(self) -> None:
        """Empty the ring and clear its counters (keeps block size and depth)."""
        block, slots = self.block_size, self.n_slots
        self.counters[:] = 0
        self.stats[:] = 0.0
        self.configure(block, slots)


class RingFeeder:
    """Keeps a :class:`BlockRing` full from a :class:`LiveEngine` (runs in the render process).

    Also records the played blocks to ``record`` (float32 WAV, written to a temporary
    file and renamed at the end) and keeps every block's render time.
    """

    def __init__(self, engine: LiveEngine, ring: BlockRing, record: str | None = None) -> None:
        self.engine = engine
        self.ring = ring
        self.render_seconds: list[float] = []  # wall time per block
        self.cpu_seconds: list[float] = []     # CPU time of the rendering thread per block
        self._recorder = _Recorder(record, engine.sample_rate) if record else None

    def fill(self) -> int:
        """Render blocks until the ring is full or the performance has finished; return how many."""
        ring, engine = self.ring, self.engine
        done = 0
        n_chunks = len(engine.chunk_seconds)
        while ring.fill_level() < ring.n_slots and not ring.counters[ring.FINISHED]:
            w = int(ring.counters[ring.WRITE])
            slot = ring.slot(w)
            t0, c0 = time.perf_counter(), time.thread_time()
            got = engine.render(slot)
            dt = time.perf_counter() - t0
            self.render_seconds.append(dt)
            self.cpu_seconds.append(time.thread_time() - c0)
            pos = engine.position()
            ring.meta[w % ring.n_slots] = (pos.bar, pos.beat, pos.bpm, dt)
            chunks = engine.chunk_seconds
            if len(chunks) > n_chunks:  # this call rendered a chunk: its load for the status line
                n_chunks = len(chunks)
                load = chunks[-1] * engine.sample_rate / engine.chunk_size
                ring.stats[0] = load
                if n_chunks > 1:  # the first chunk is rendered before playback (timeline set-up)
                    ring.stats[1] = max(ring.stats[1], load)
            ring.stats[2] += 1
            if got:
                if self._recorder:
                    self._recorder.write(slot[:, :got])
                ring.counters[ring.FRAMES] += got
                ring.counters[ring.WRITE] = w + 1  # publish after the data is in place
                done += 1
            if engine.finished or not got:
                ring.counters[ring.FINISHED] = 1
        return done

    def close(self, *, keep_recording: bool = True, played_frames: int | None = None) -> str | None:
        """Stop the engine; finish the recording (cut to ``played_frames``: the blocks
        still in the ring were never heard) or remove it."""
        self.engine.close()
        return self._recorder.close(keep_recording, played_frames) if self._recorder else None


class _Recorder:
    """float32 WAV of the blocks played, written to a hidden temporary, renamed on close."""

    def __init__(self, path: str, sample_rate: int) -> None:
        import soundfile as sf

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._file = sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=2, subtype="FLOAT", format="WAV")
        self.frames = 0

    def write(self, block: np.ndarray) -> None:
        self._file.write(block.T)
        self.frames += block.shape[1]

    def close(self, keep: bool, played_frames: int | None = None) -> str | None:
        if keep and played_frames is not None and 0 <= played_frames < self.frames:
            self._file.truncate(played_frames)
        self._file.close()
        if keep:
            os.replace(self._tmp, self.path)
            return str(self.path)
        self._tmp.unlink(missing_ok=True)
        return None


def raise_priority() -> None:
    """Best effort: put the calling thread ahead of ordinary processes.

    Real-time round-robin at the lowest priority (below JACK's audio threads) where the
    system allows it (root, or an ``rtprio`` limit as audio groups have), else nice
    ``RENDER_NICE``. The render thread sleeps whenever the ring is full, so it cannot
    take more than its real-time share; Linux also caps real-time threads at 95 % of a
    CPU (``sched_rt_runtime_us``).
    """
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, 0, RENDER_NICE)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(RENDER_RT_PRIORITY))


#: Ring capacity in slots (the mapping is touched only where blocks are written).
MAX_SLOTS = 1024


def ring_slots(block_size: int, sample_rate: int, ahead_ms: float | None = None) -> int:
    """Slots for ``ahead_ms`` of audio (default ``DEFAULT_AHEAD_MS``), rounded up; 2..MAX_SLOTS.

    Examples
    --------
    >>> ring_slots(128, 48000, 10.0)
    4
    """
    seconds = RING_SECONDS if ahead_ms is None else ahead_ms / 1000.0
    return max(2, min(MAX_SLOTS, math.ceil(seconds * sample_rate / block_size - 1e-9)))


def _render_process(conn, ring: BlockRing, score_path: str, text: str, settings: PlaySettings,
                    player_end=None) -> None:
    """Entry point of the render process: build the engine, keep the ring full, obey commands.

    Exits when the player says so, or when the player process is gone (killed): the
    fork inherited the player's end of the pipe (``player_end``), which is closed here
    so that a dead player shows as end-of-file, and the parent pid is watched as well.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the player's; it tells us to stop
    if player_end is not None:
        player_end.close()
    player_pid = os.getppid()
    sys.setswitchinterval(0.001)  # the renderer's own helper threads must not starve it
    raise_priority()
    try:
        if not conn.poll(600.0):
            return
        config = conn.recv()  # ("start", sample_rate, chunk_frames) once the audio server is up
    except (EOFError, OSError):  # the player died before its audio server came up
        return
    try:
        if config[0] != "start":
            return
        from symphony.catalog import load

        score = load(score_path, text=text)
        engine = LiveEngine(score, sample_rate=config[1], block_size=ring.block_size,
                            start_bar=settings.start_bar, loop=settings.loop, seed=settings.seed,
                            chunk_size=config[2] if len(config) > 2 else settings.chunk_frames)
        engine.warm_up()
        feeder = RingFeeder(engine, ring, settings.record)
    except SymphonyError as exc:
        with contextlib.suppress(OSError):  # a player that is gone needs no message
            conn.send(("fatal", exc.format() if isinstance(exc, ScoreError) else f"error: {exc}"))
        return
    loader = ThreadPoolExecutor(1, thread_name_prefix="symphony-load")
    loading: Future | None = None
    block_seconds = ring.block_size / engine.sample_rate
    keep, played = True, None
    try:
        feeder.fill()
        conn.send(("ready", [s.name for s in score.sections], [p.name for p in score.passages]))
        while os.getppid() == player_pid:
            timeout = 0.0 if ring.fill_level() < ring.n_slots and not ring.counters[ring.FINISHED] \
                else block_seconds / 2
            if conn.poll(timeout):
                msg = conn.recv()
                if msg[0] == "stop":
                    keep = msg[1]
                    played = msg[2] if len(msg) > 2 else None
                    break
                if msg[0] == "reload":
                    loading = loader.submit(load, score_path)
                else:
                    _obey(engine, msg, conn)
            if loading is not None and loading.done():
                try:
                    engine.reload(loading.result())
                except ScoreError as exc:
                    conn.send(("error", f"{exc.format()}\n  (still playing the last good version)"))
                except SymphonyError as exc:
                    conn.send(("error", f"error: {exc}"))
                loading = None
            feeder.fill()
            while engine.messages:
                conn.send(("info", engine.messages.pop(0)))
    except (EOFError, OSError):  # the player is gone
        keep = False
    finally:
        loader.shutdown(wait=False, cancel_futures=True)
        recorded = feeder.close(keep_recording=keep, played_frames=played)
        with contextlib.suppress(OSError):
            conn.send(("summary", np.asarray(feeder.render_seconds), recorded,
                       np.asarray(feeder.cpu_seconds), np.asarray(engine.chunk_seconds),
                       np.asarray(engine.chunk_cpu_seconds), engine.chunk_size))


def _obey(engine: LiveEngine, msg: tuple, conn) -> None:
    """Apply one control message (from the keyboard or OSC) to the engine."""
    kind, *args = msg
    try:
        if kind == "nudge":
            engine.nudge_tempo(float(args[0]))
        elif kind == "mute":
            engine.set_mute(str(args[0]), bool(args[1]))
        elif kind == "solo":
            engine.set_solo(str(args[0]), bool(args[1]))
        elif kind == "jump":
            target = args[0]
            if isinstance(target, str) and not target.lstrip("+-").isdigit():
                engine.jump_to_passage(target)
            elif isinstance(target, str) and target[0] in "+-":
                engine.jump_by_passages(int(target))
            else:
                engine.jump_to_bar(int(target))
        else:
            raise ParameterError(f"unknown command {kind!r}")
        if kind in ("mute", "solo"):
            conn.send(("info", f"{kind} {args[0]} {'on' if args[1] else 'off'}"))
    except (ParameterError, ValueError, IndexError) as exc:
        conn.send(("error", f"error: {exc}"))
