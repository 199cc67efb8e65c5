"""``symphony play``: the player process's main thread (messages, keys, OSC, watch, status)."""

from __future__ import annotations

import multiprocessing
import os
import select
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from symphony.errors import ParameterError, SymphonyError
from symphony.live.engine import (AUDIO_STALL_S, STATUS_INTERVAL_S, AudioServerLostError, LiveEngine,
                                  PlaySettings, chunk_for)
from symphony.live.output import PyoOutput
from symphony.live.ring import BlockRing, _render_process, raise_priority, ring_slots


#: GIL switch interval while playing (the audio thread waits at most about this long).
PLAYER_SWITCH_INTERVAL_S = 0.0002


@dataclass
class PlaySummary:
    """What a live performance did, printed at the end."""

    seconds_played: float
    underruns: int
    block_seconds: float
    render_ms: np.ndarray  # every block's render time, ms
    recorded: str | None = None
    interrupted: bool = False
    render_cpu_ms: np.ndarray | None = None  # CPU time of the render thread per block, ms
    chunk_seconds: float = 0.0                # audio per render chunk
    chunk_ms: np.ndarray | None = None        # wall time of every chunk rendered, ms
    chunk_cpu_ms: np.ndarray | None = None    # CPU time of every chunk rendered, ms
    callback_ms: np.ndarray | None = None     # duration of the audio callbacks, ms
    ahead_seconds: float = 0.0                # render-ahead (ring depth)

    def format(self) -> str:
        block_ms = 1000.0 * self.block_seconds
        t = self.render_ms if self.render_ms.size else np.zeros(1)
        med, p99, worst = np.median(t), np.percentile(t, 99), t.max()
        text = (f"played {int(self.seconds_played // 60)}:{self.seconds_played % 60:04.1f}; "
                f"underruns: {self.underruns}; block render time ({t.size} blocks of {block_ms:.2f} ms): "
                f"mean {t.mean():.2f} ms ({100 * t.mean() / block_ms:.0f} %), "
                f"median {med:.2f} ms ({100 * med / block_ms:.0f} %), p99 {p99:.2f} ms "
                f"({100 * p99 / block_ms:.0f} %), worst {worst:.2f} ms ({100 * worst / block_ms:.0f} %)")
        if self.chunk_ms is not None and self.chunk_ms.size and self.chunk_seconds:
            c, chunk_ms = self.chunk_ms, 1000.0 * self.chunk_seconds
            cpu = self.chunk_cpu_ms if self.chunk_cpu_ms is not None and self.chunk_cpu_ms.size else c
            text += (f"\nrender chunks ({c.size} of {chunk_ms:.2f} ms, {1000 * self.ahead_seconds:.1f} ms ahead): "
                     f"median {np.median(c):.2f} ms ({100 * np.median(c) / chunk_ms:.0f} %), "
                     f"p99 {np.percentile(c, 99):.2f} ms ({100 * np.percentile(c, 99) / chunk_ms:.0f} %), "
                     f"worst {c.max():.2f} ms ({100 * c.max() / chunk_ms:.0f} %), "
                     f"CPU mean {100 * cpu.mean() / chunk_ms:.0f} %")
        if self.callback_ms is not None and self.callback_ms.size:
            b = self.callback_ms
            text += (f"; audio callback: median {1000 * np.median(b):.0f} us, p99 "
                     f"{1000 * np.percentile(b, 99):.0f} us, worst {1000 * b.max():.0f} us")
        if self.recorded:
            text += f"\nrecorded {self.recorded}"
        return text


KEYS = {b" ": ("pause",), b"q": ("quit",), b"Q": ("quit",), b"\x1b[C": ("jump", "+1"),
        b"\x1b[D": ("jump", "-1"), b"\x1b[A": ("nudge", 2.0), b"\x1b[B": ("nudge", -2.0)}


def split_keys(data: bytes) -> list[bytes]:
    r"""Split terminal input into keys: ``ESC [ x`` sequences (arrows) or single bytes.

    Examples
    --------
    >>> split_keys(b" \x1b[Cq")
    [b' ', b'\x1b[C', b'q']
    """
    keys, i = [], 0
    while i < len(data):
        step = 3 if data[i:i + 2] == b"\x1b[" else 1
        keys.append(data[i:i + step])
        i += step
    return keys


class _Keyboard:
    """Single keys from a terminal in cbreak mode (Ctrl-C still interrupts)."""

    def __init__(self, stream) -> None:
        import termios
        import tty

        self._fd = stream.fileno()
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self._fd], [], [], timeout)
        return os.read(self._fd, 16) if ready else b""

    def close(self) -> None:
        import termios

        termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)


class _Watch:
    """Notices when a file is saved (mtime or size changes); polled, no dependency."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp = self._read()

    def _read(self):
        try:
            st = os.stat(self.path)
            return (st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    def changed(self) -> bool:
        stamp = self._read()
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        return True


def play(score_path: str, settings: PlaySettings, *, echo: Callable[[str], None] | None = None,
         stdin=None, status_stream=None, max_seconds: float | None = None) -> PlaySummary:
    """Play a score file live through pyo until its end, ``q`` or Ctrl-C.

    Parameters
    ----------
    score_path : str
    settings : PlaySettings
    echo : callable(str), optional
        Where messages go (default: stderr).
    stdin : file, optional
        Keyboard (used only if it is a terminal; default ``sys.stdin``).
    status_stream : file, optional
        Where the live status line goes (default: stderr if it is a terminal, else none).
    max_seconds : float, optional
        Stop after this much wall time (demos, tests).

    Returns
    -------
    PlaySummary

    Raises
    ------
    ScoreError
        The score has errors (nothing is played).
    NoAudioDeviceError
        No JACK server / no audio device.
    """
    from symphony.catalog import load

    echo = echo or (lambda text: print(text, file=sys.stderr, flush=True))
    stdin = sys.stdin if stdin is None else stdin
    if status_stream is None and sys.stderr.isatty():
        status_stream = sys.stderr
    try:
        text = Path(score_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"cannot read {score_path}: {exc.strerror or exc}") from None
    score = load(score_path, text=text)
    LiveEngine._check_loop(score, settings.loop)
    if settings.start_bar is not None:
        LiveEngine._check_bar(score, settings.start_bar, "--from-bar")

    ring = BlockRing()
    ctx = multiprocessing.get_context("fork")  # before pyo starts any thread
    conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=_render_process, args=(child_conn, ring, str(score_path), text, settings, conn),
                       name="symphony-render", daemon=True)
    proc.start()
    child_conn.close()
    # pyo's audio thread needs the GIL for the callback: this process's main thread must
    # hand it over at once (not after the default 5 ms) and must not sit preempted
    # while holding it.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(PLAYER_SWITCH_INTERVAL_S)
    raise_priority()
    output = None
    player = None
    interrupted = False
    lost: AudioServerLostError | None = None
    try:
        output = PyoOutput(ring, audio=settings.backend, sample_rate=score.sample_rate,
                           buffer_size=settings.buffer_size, device=settings.device,
                           client_name=settings.client_name)
        if output.block_size != settings.buffer_size:
            echo(f"note: the audio server imposes {output.block_size}-frame blocks "
                 f"(asked for {settings.buffer_size})")
        ring.configure(output.block_size, ring_slots(output.block_size, output.sample_rate, settings.ahead_ms))
        chunk = settings.chunk_frames or chunk_for(ring.n_slots * ring.block_size, ring.block_size)
        conn.send(("start", output.sample_rate, chunk))
        player = _Player(str(score_path), output, ring, conn, proc, settings, echo, status_stream)
        player.wait_ready()
        output.start()
        echo(f"playing {score_path} at {output.sample_rate} Hz, {output.block_size}-frame blocks "
             f"({settings.backend})" + (f", OSC on port {settings.osc_port}" if player.osc else ""))
        player.run(stdin, max_seconds)
    except KeyboardInterrupt:
        interrupted = True
    except AudioServerLostError as exc:
        lost = exc
    finally:
        if output is not None:
            output.fade_out()
        played = int(ring.counters[ring.READ]) * ring.block_size
        summary_msg = _stop_renderer(conn, proc, keep=True, played_frames=played)
        callback_s = output.callback_times() if output is not None else np.zeros(0)
        if output is not None:
            output.close()
        if player is not None:
            player.close()
        sys.setswitchinterval(switch_interval)
    underruns = int(ring.counters[ring.UNDERRUNS])
    frames = int(ring.counters[ring.READ])
    block = ring.block_size
    times, recorded, cpu, chunk_s, chunk_cpu_s, chunk = summary_msg[1:7] if summary_msg else (
        np.zeros(0), None, np.zeros(0), np.zeros(0), np.zeros(0), 0)
    sample_rate = output.sample_rate if output is not None else score.sample_rate
    summary = PlaySummary(frames * block / sample_rate, underruns, block / sample_rate,
                          np.asarray(times) * 1000.0, recorded, interrupted, np.asarray(cpu) * 1000.0,
                          chunk_seconds=chunk / sample_rate, chunk_ms=np.asarray(chunk_s) * 1000.0,
                          chunk_cpu_ms=np.asarray(chunk_cpu_s) * 1000.0,
                          callback_ms=np.asarray(callback_s) * 1000.0,
                          ahead_seconds=ring.n_slots * block / sample_rate)
    if lost is not None:  # what was played (and recorded) until then, then the error
        echo(summary.format())
        raise lost
    return summary


def _stop_renderer(conn, proc, *, keep: bool, played_frames: int | None = None):
    """Tell the render process to stop, collect its summary, make sure it is gone."""
    summary = None
    try:
        if proc.is_alive():
            conn.send(("stop", keep, played_frames))
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and (proc.is_alive() or conn.poll()):
            if conn.poll(0.1):
                msg = conn.recv()
                if msg[0] == "summary":
                    summary = msg
                    break
    except (EOFError, OSError, BrokenPipeError):
        pass
    proc.join(2.0)
    if proc.is_alive():
        proc.terminate()
        proc.join(2.0)
    return summary


class _Player:
    """The main thread of a performance: messages, keys, OSC, watch, status line."""

    def __init__(self, path: str, output: PyoOutput, ring: BlockRing, conn, proc,
                 settings: PlaySettings, echo, status_stream) -> None:
        import queue

        self.path = path
        self.output, self.ring, self.conn, self.proc = output, ring, conn, proc
        self.settings, self.echo, self.status_stream = settings, echo, status_stream
        self.commands: "queue.SimpleQueue[tuple]" = queue.SimpleQueue()
        self.osc = False
        self._status_len = 0
        self._keyboard = None

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.conn.poll(0.1):
                msg = self.conn.recv()
                if msg[0] == "ready":
                    self.sections = msg[1]
                    if self.settings.osc_port:
                        self.osc = self.output.listen_osc(self.settings.osc_port, self._on_osc)
                        if not self.osc:
                            self.echo(f"warning: cannot listen for OSC on port {self.settings.osc_port}; "
                                      f"use --osc-port to pick another")
                    return
                if msg[0] == "fatal":
                    raise ParameterError(msg[1].removeprefix("error: "))
            elif not self.proc.is_alive():
                break
        raise SymphonyError("the render process did not start")

    def _on_osc(self, address: str, args: tuple) -> None:
        # pyo's OSC thread: only hand the message over.
        name = address.rsplit("/", 1)[-1]
        self.commands.put(("nudge" if name == "tempo" else name, *args))

    def run(self, stdin, max_seconds: float | None) -> bool:
        """Loop until the end of the performance or quit; True if stopped early."""
        if stdin is not None and hasattr(stdin, "isatty") and stdin.isatty():
            self._keyboard = _Keyboard(stdin)
            self.echo("keys: space pause/resume, q quit, left/right previous/next passage, "
                      "up/down tempo +-2 %")
        watch = _Watch(self.path) if self.settings.watch else None
        started = time.monotonic()
        ring = self.ring
        self._heartbeat = (int(ring.counters[ring.CALLBACKS]), started)
        self._last_check = started
        while True:
            self._check_audio_server()
            self._drain_messages()
            key = self._keyboard.read(STATUS_INTERVAL_S) if self._keyboard else b""
            if not self._keyboard:
                time.sleep(STATUS_INTERVAL_S)
            for k in split_keys(key):
                if k in KEYS:
                    self.commands.put(KEYS[k])
            while not self.commands.empty():
                cmd = self.commands.get()
                if cmd[0] == "quit":
                    self._clear_status()
                    return True
                if cmd[0] == "pause":
                    (self.output.resume if self.output.paused else self.output.pause)()
                elif cmd[0] == "resume":
                    self.output.resume()
                else:
                    self.conn.send(cmd)
            if watch is not None and watch.changed():
                self.conn.send(("reload",))
            self._show_status()
            if ring.counters[ring.FINISHED] and ring.fill_level() == 0:
                self._clear_status()
                return False
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                self._clear_status()
                return True
            if not self.proc.is_alive():
                raise SymphonyError("the render process stopped unexpectedly")

    def _check_audio_server(self) -> None:
        """Raise :class:`AudioServerLostError` when the audio server has gone away: pyo
        saw a JACK shutdown, or no audio callback for ``AUDIO_STALL_S`` (any backend;
        the callback runs while paused too)."""
        ring, now = self.ring, time.monotonic()
        beats = int(ring.counters[ring.CALLBACKS])
        if beats != self._heartbeat[0] or now - self._last_check > AUDIO_STALL_S / 2:
            # a new callback; or this thread was stalled itself (a VM pause stops the audio
            # thread too): judge the audio server only over time this thread was awake
            self._heartbeat = (beats, now)
        self._last_check = now
        if self.output.alive() and now - self._heartbeat[1] <= AUDIO_STALL_S:
            return
        self._clear_status()
        r = int(ring.counters[ring.READ])  # the next block to play; its slot is not reused yet
        bar = int(ring.meta[r % ring.n_slots][0]) if ring.counters[ring.WRITE] > r else \
            int(ring.meta[(r - 1) % ring.n_slots][0]) if r else 1
        if self.settings.backend == "jack" and not self.output.alive():
            what = "the JACK server stopped (it was killed, crashed or shut down)"
            fix = (f"start it again (without a sound card: jackd -d dummy -r {self.output.sample_rate} "
                   f"-p {self.output.block_size} &) and resume with --from-bar {bar}")
        else:
            backend = {"jack": "JACK server", "portaudio": "PortAudio device"}.get(self.settings.backend,
                                                                                 "audio server")
            what = (f"the {backend} stopped asking for audio "
                    f"(no block for {now - self._heartbeat[1]:.1f} s)")
            fix = f"check the audio server or device, then resume with --from-bar {bar}"
        raise AudioServerLostError(f"{what}; playback ended in bar {bar}.\n  hint: {fix}")

    def _drain_messages(self) -> None:
        while self.conn.poll():
            msg = self.conn.recv()
            if msg[0] in ("info", "error"):
                self._clear_status()
                self.echo(msg[1])
            elif msg[0] == "fatal":
                raise ParameterError(msg[1].removeprefix("error: "))

    def _show_status(self) -> None:
        if self.status_stream is None:
            return
        ring = self.ring
        r = int(ring.counters[ring.READ])
        # the next block to play: its slot cannot be rewritten before it has played (the
        # slot just played can: the ring is usually full)
        bar, beat, bpm, _ = ring.meta[r % ring.n_slots] if ring.counters[ring.WRITE] > r else \
            (ring.meta[(r - 1) % ring.n_slots] if r else (1, 1.0, 0.0, 0.0))
        line = (f"bar {int(bar):>3}:{beat:4.2f}  {bpm:6.1f} bpm  DSP {100 * ring.stats[0]:3.0f} % "
                f"(worst {100 * ring.stats[1]:3.0f} %)  underruns {int(ring.counters[ring.UNDERRUNS])}"
                + ("  [paused]" if self.output.paused else ""))
        self.status_stream.write("\r" + line.ljust(self._status_len))
        self.status_stream.flush()
        self._status_len = len(line)

    def _clear_status(self) -> None:
        if self.status_stream is not None and self._status_len:
            self.status_stream.write("\r" + " " * self._status_len + "\r")
            self.status_stream.flush()
            self._status_len = 0

    def close(self) -> None:
        self._clear_status()
        if self._keyboard is not None:
            self._keyboard.close()
            self._keyboard = None
