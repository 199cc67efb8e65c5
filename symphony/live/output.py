"""The audio side: a pyo server whose callback plays finished ring slots (the only pyo user)."""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import sys
import tempfile
import threading
import time
from time import perf_counter as _perf_counter
from typing import Callable

import numpy as np

from symphony.live.engine import NO_JACK_HINT, NoAudioDeviceError
from symphony.live.ring import BlockRing

log = logging.getLogger(__name__)


#: ``SYMPHONY_PORTAUDIO``: which PortAudio library pyo's PortAudio backend uses: unset
#: (the system's ``libportaudio.so.2`` when there is one, else the one in pyo's wheel),
#: ``bundled`` (always pyo's own) or a path or soname to load instead.
PORTAUDIO_ENV = "SYMPHONY_PORTAUDIO"
#: The PortAudio library loaded in place of pyo's bundled one (None: pyo's own).
_portaudio_library: str | None = None
#: The JACK client name handed to PortAudio (kept alive: PortAudio stores the pointer).
_JACK_CLIENT_NAME: list[bytes] = []


def _prefer_system_portaudio(client_name: str = "symphony") -> str | None:
    """Load the system's PortAudio into the global symbol scope, before pyo is imported.

    pyo's Linux wheels bundle a PortAudio built with the ALSA and OSS host APIs only
    (``pyo.libs/libportaudio-*.so``: no JACK host API, and an ALSA that does not read the
    system's ALSA configuration and plugins). Distributions build PortAudio with JACK
    (Debian's ``libportaudio2`` links ``libjack.so.0``), so with the system library
    PortAudio also offers every JACK client as an output device (``system`` is the sound
    card, or jackd's dummy driver). Loaded with ``RTLD_GLOBAL`` before pyo, it wins the
    dynamic linker's symbol lookup (the global scope is searched before the extension
    module's own dependencies), so pyo's ``Pa_*`` calls go to it; PortAudio's C API and
    ABI are the same across v19. Returns the library loaded, or None (pyo's own).
    """
    global _portaudio_library
    choice = os.environ.get(PORTAUDIO_ENV, "").strip()
    if choice == "bundled" or any(m in sys.modules for m in ("pyo", "pyo64", "pyo._pyo64", "pyo._pyo")):
        return _portaudio_library  # too late to choose once pyo is loaded
    import ctypes
    import ctypes.util
    name = choice or ctypes.util.find_library("portaudio")
    if not name:
        return None
    try:
        ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        if choice:
            raise NoAudioDeviceError(f"{PORTAUDIO_ENV}={choice!r}: cannot load it ({exc}); unset "
                                     f"{PORTAUDIO_ENV} to use the system's PortAudio or pyo's own") from None
        log.debug("system PortAudio %s not loaded: %s", name, exc)
        return None
    _portaudio_library = name
    # PortAudio's JACK host API registers a JACK client, "PortAudio" unless told otherwise
    # before Pa_Initialize; PortAudio keeps the pointer, so the bytes must stay alive.
    set_name = getattr(ctypes.CDLL(name), "PaJack_SetClientName", None)
    if set_name is not None:
        _JACK_CLIENT_NAME[:] = [client_name.encode()]
        set_name.argtypes = [ctypes.c_char_p]
        set_name(_JACK_CLIENT_NAME[0])
    log.debug("PortAudio: using %s instead of pyo's bundled library", name)
    return name


def _import_pyo():
    """Import pyo's double-precision build, without its wxPython notice.

    .. note:: pyo scales its output by a server amplitude that ramps from 0 to 1 over
       5 ms at start. The single-precision build ends that ramp at 0.9999992 (240 float32
       additions of 1/240), which changes almost every sample; in the double build the
       amplitude ends within 1e-13 of 1, so float32 samples pass through unchanged.
    """
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import pyo64
    return pyo64


@contextlib.contextmanager
def _c_output_captured():
    """Send C-level stdout/stderr (libjack, ALSA, pyo's printf) to a buffer; yields a list
    that holds the captured text afterwards (logged at debug level)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    box: list[str] = []
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield box
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            box.append(sink.read().decode("utf-8", "replace"))
            if box[0].strip():
                log.debug("audio backend said:\n%s", box[0])


class PyoOutput:
    """A booted pyo server whose audio callback plays :class:`BlockRing` slots.

    Per block the callback copies one finished slot into a two-channel ``DataTable``
    that a ``TableScan`` plays (sample for sample: no interpolation, exact float32). It
    allocates no arrays, takes no lock, does no I/O; when the ring is empty it plays
    silence and counts an underrun. Pause, resume and stop fade over one block.

    Parameters
    ----------
    ring : BlockRing
    audio : {"jack", "portaudio", "manual"}
        ``manual`` advances one block per :meth:`process` call (tests).
    sample_rate, buffer_size : int
        Requests; JACK imposes its own (see the attributes after construction).
    device : str, optional
        JACK: prefix of the ports to connect to (``system:playback_``); PortAudio: a
        substring of the output device's name, or its index.

    Raises
    ------
    NoAudioDeviceError
        No JACK server running, or no PortAudio output device.
    """

    PLAY, PAUSING, PAUSED, RESUMING, STOPPING, STOPPED, STARTING = range(7)
    #: pyo fades its output in over this long after ``start()``; we play silence meanwhile.
    SERVER_FADE_IN_S = 0.005
    #: The last this many callbacks are timed (about 12 minutes at 256 frames, 48 kHz).
    CALLBACK_TIMES = 1 << 17

    def __init__(self, ring: BlockRing, *, audio: str, sample_rate: int, buffer_size: int,
                 device: str | None = None, client_name: str = "symphony") -> None:
        if audio == "portaudio":
            _prefer_system_portaudio(client_name)
        pyo = _import_pyo()
        self._pyo = pyo
        self.audio = audio
        output_device = None
        # Never start a JACK server behind the user's back (libjack would try; so would
        # PortAudio's JACK host API).
        os.environ["JACK_NO_START_SERVER"] = "1"
        if audio == "portaudio":
            output_device = _portaudio_device(pyo, device)
        server = pyo.Server(sr=sample_rate, nchnls=2, buffersize=buffer_size, duplex=0, audio=audio,
                            jackname=client_name, verbosity=1)
        server.deactivateMidi()
        if audio == "jack":
            server.setJackAuto(False, False)
            prefix = device or "system:playback_"
            server.setJackAutoConnectOutputPorts([[f"{prefix}1"], [f"{prefix}2"]])
        if output_device is not None:
            server.setOutputDevice(output_device)
        with _c_output_captured() as said:
            server.boot()
        if not server.getIsBooted() and audio == "portaudio":
            # A device runs at its own rate (PortAudio's JACK devices only at JACK's, many
            # sound cards at 44.1/48 kHz only): play at the device's default rate instead,
            # as the JACK backend plays at JACK's (the renderer follows the server's rate).
            rate = _portaudio_default_rate(pyo, output_device)
            if rate and rate != sample_rate and "sample rate" in said[0].lower():
                log.info("the PortAudio device refused %d Hz; playing at its %d Hz", sample_rate, rate)
                server.setSamplingRate(rate)
                with _c_output_captured() as said:
                    server.boot()
        if not server.getIsBooted():
            if audio == "jack":
                raise NoAudioDeviceError(f"no JACK server is running (or it refused client "
                                         f"'{client_name}'); {NO_JACK_HINT}")
            raise NoAudioDeviceError(f"the PortAudio output device did not start ({_pyo_reason(said[0])}; "
                                     f"asked for {sample_rate} Hz, {buffer_size}-frame blocks); "
                                     f"{_portaudio_hint()}")
        self.server = server
        self.sample_rate = int(server.getSamplingRate())
        self.block_size = int(server.getBufferSize())
        self.ring = ring
        self.mode = self.PLAY
        self._table = pyo.DataTable(size=self.block_size, chnls=2)
        self._left = np.asarray(self._table.getBuffer(0))
        self._right = np.asarray(self._table.getBuffer(1))
        self._left.fill(0.0)
        self._right.fill(0.0)
        self.scan = pyo.TableScan(self._table).out()
        fade = 0.5 * (1.0 + np.cos(np.pi * (np.arange(self.block_size) + 0.5) / self.block_size))
        self._fade_out = fade.astype(np.float32)
        self._fade_in = (1.0 - fade).astype(np.float32)
        self._osc = []
        self._slots: list = []
        self.callback_seconds = np.zeros(self.CALLBACK_TIMES)
        self._n_timed = 0
        self.lead_in_blocks = math.ceil(self.SERVER_FADE_IN_S * self.sample_rate / self.block_size) + 1

    def start(self) -> None:
        """Start the audio callback (after the ring has been configured and filled)."""
        ring = self.ring
        self._slots = [ring.slot(i) for i in range(ring.n_slots)]
        self._n_slots = ring.n_slots
        self._counters = ring.counters
        self.server.setCallback(self._timed_callback)
        if not self.server.getIsStarted():
            self._lead_in = self.lead_in_blocks
            self.mode = self.STARTING
            self.server.start()

    def _timed_callback(self) -> None:
        # The callback's own duration, into a preallocated ring of CALLBACK_TIMES entries.
        t0 = _perf_counter()
        self._callback()
        times = self.callback_seconds
        times[self._n_timed % times.size] = _perf_counter() - t0
        self._n_timed += 1

    def callback_times(self) -> np.ndarray:
        """Durations (s) of the most recent audio callbacks (at most ``CALLBACK_TIMES``)."""
        return self.callback_seconds[:min(self._n_timed, self.callback_seconds.size)].copy()

    def _callback(self) -> None:
        # The audio thread: copy a finished block; no allocation of arrays, no lock, no I/O.
        c = self._counters
        c[7] += 1  # CALLBACKS: the heartbeat the player watches
        mode = self.mode
        left, right = self._left, self._right
        if mode == 2 or mode == 5 or mode == 6:  # PAUSED, STOPPED, STARTING
            left.fill(0.0)
            right.fill(0.0)
            if mode == 6:
                self._lead_in -= 1
                if self._lead_in <= 0:
                    self.mode = 0
            return
        r = c[1]
        if c[0] > r:
            src = self._slots[r % self._n_slots]
            if mode == 0:
                np.copyto(left, src[0])
                np.copyto(right, src[1])
            else:
                ramp = self._fade_in if mode == 3 else self._fade_out
                np.multiply(src[0], ramp, out=left)
                np.multiply(src[1], ramp, out=right)
                self.mode = 0 if mode == 3 else (2 if mode == 1 else 5)
            c[1] = r + 1
        else:
            left.fill(0.0)
            right.fill(0.0)
            if not c[3]:
                c[2] += 1
            if mode != 0:
                self.mode = 0 if mode == 3 else (2 if mode == 1 else 5)

    def process(self) -> None:
        """Compute one block (``audio="manual"`` only)."""
        self.server.process()

    def pause(self) -> None:
        if self.mode in (self.PLAY, self.RESUMING):
            self.mode = self.PAUSING

    def resume(self) -> None:
        if self.mode in (self.PAUSED, self.PAUSING):
            self.mode = self.RESUMING

    @property
    def paused(self) -> bool:
        return self.mode in (self.PAUSING, self.PAUSED)

    def alive(self) -> bool:
        """False once the audio server has gone away under us.

        pyo registers a JACK shutdown callback (``jack_on_shutdown``): when the JACK server
        dies or throws the client out, pyo shuts its own server down, which shows here as
        ``getIsBooted() == 0`` within a few milliseconds. A server that merely stops
        calling (a hung driver) is caught by the player's heartbeat instead.
        """
        server = self.server
        return server is not None and (self.audio == "manual" or bool(server.getIsBooted()))

    def fade_out(self, timeout: float = 0.5) -> None:
        """Fade to silence over one block and wait until the audio thread has done it."""
        if not self.alive():
            self.mode = self.STOPPED
            return
        if self.mode != self.STOPPED:
            self.mode = self.STOPPING if self.mode != self.PAUSED else self.STOPPED
        deadline = time.monotonic() + timeout
        while self.mode != self.STOPPED and time.monotonic() < deadline and self.audio != "manual":
            time.sleep(self.block_size / self.sample_rate)
        # one more period so that the faded block has left the server
        if self.audio != "manual":
            time.sleep(2 * self.block_size / self.sample_rate)

    def listen_osc(self, port: int, handler: Callable[[str, tuple], None]) -> bool:
        """Receive ``OSC_ADDRESSES`` on UDP ``port``; ``handler(address, args)`` runs on
        pyo's OSC thread. Returns False when the port cannot be opened."""
        self._osc_handler = handler
        with _c_output_captured() as said:
            receiver = self._pyo.OscDataReceive(port, list(OSC_ADDRESSES), self._on_osc)
        if "error" in said[0].lower():
            return False
        self._osc.append(receiver)  # pyo holds only a weak reference to the method
        return True

    def _on_osc(self, address, *args) -> None:
        self._osc_handler(address, args)

    def close(self, timeout: float = 3.0) -> None:
        """Stop and shut the server down (idempotent).

        pyo objects and the numpy views of their memory are released *before* the
        server shuts down: a pyo object freed after its server crashes the process.
        Closing a JACK client waits for the JACK server's answer, which a hung server
        never gives: the shutdown runs in a helper thread and is abandoned (the server
        object is kept, so that it is not closed again at exit) after ``timeout``.
        """
        server = getattr(self, "server", None)
        if server is None:
            return
        self.server = None
        with _c_output_captured():
            booted = self.audio == "manual" or server.getIsBooted()  # not after a JACK shutdown
            server.setCallback(_no_op)
            self._osc.clear()
            self._left = self._right = None
            self._slots = []
            self.scan = self._table = None
            if not booted:
                return
            if self.audio == "manual":
                server.stop()
                server.shutdown()
                return

            def shut_down() -> None:
                if server.getIsStarted():
                    server.stop()
                    time.sleep(0.05)
                server.shutdown()
            worker = threading.Thread(target=shut_down, name="symphony-pyo-shutdown", daemon=True)
            worker.start()
            worker.join(timeout)
            if worker.is_alive():
                _ABANDONED.append(server)
                log.warning("the audio server did not answer; its client was left to the OS")


#: pyo servers whose shutdown never returned (a hung JACK server): never deallocated,
#: because pyo's dealloc would try to close them again and block the exit.
_ABANDONED: list = []


def _no_op() -> None:
    pass


def _portaudio_device(pyo, device: str | None) -> int | None:
    """The PortAudio output device index for ``--device`` (None: PortAudio's default).

    ``device`` is an index, or a name: an exact (case-insensitive) name first, else the one
    name that contains it. With PortAudio's JACK host API every JACK client with input
    ports is a device named after the client (``system``: the sound card or jackd's dummy
    driver); PortAudio then connects its outputs to that client's first two inputs.
    """
    with _c_output_captured():
        names, indexes = pyo.pa_get_output_devices()
        default = pyo.pa_get_default_output()
    if not indexes or (device is None and default < 0):
        raise NoAudioDeviceError(f"PortAudio finds no audio output device; {_portaudio_hint()}")
    if device is None:
        return None
    listing = ", ".join(f"{i}: {n}" for n, i in zip(names, indexes))
    if device.strip().isdigit() and int(device) in indexes:
        return int(device)
    wanted = device.strip().lower()
    exact = [int(i) for n, i in zip(names, indexes) if str(n).strip().lower() == wanted]
    if exact:
        return exact[0]
    partial = [(n, int(i)) for n, i in zip(names, indexes) if wanted and wanted in str(n).lower()]
    if len(partial) == 1:
        return partial[0][1]
    if len(partial) > 1:
        raise NoAudioDeviceError(f"--device {device!r} matches several PortAudio output devices ("
                                 + ", ".join(f"{i}: {n}" for n, i in partial)
                                 + "); give its index or its whole name")
    raise NoAudioDeviceError(f"no PortAudio output device matches {device!r}; devices: {listing}")


def _portaudio_default_rate(pyo, index: int | None) -> int | None:
    """The default sample rate of PortAudio output device ``index`` (None: the default device)."""
    try:
        with _c_output_captured():
            if index is None:
                index = pyo.pa_get_default_output()
            outputs = pyo.pa_get_devices_infos()[1]
        return int(outputs[index]["default sr"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None


def _pyo_reason(said: str) -> str:
    """PortAudio's own words from pyo's boot messages (pyo ends them with "Server not booted.")."""
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("Pyo error: From portaudio,"):
            return line.removeprefix("Pyo error: From portaudio,").strip()
    for line in lines:
        if "error" in line.lower() and not line.lower().startswith("alsa lib"):
            return line
    return "no reason given"


def _portaudio_hint() -> str:
    """How to get a PortAudio output device on a machine without one."""
    if _portaudio_library is None:
        return ("pyo's own PortAudio has no JACK support: install the system's PortAudio "
                "(Debian: libportaudio2; symphony then uses it and plays through JACK as device "
                f"'system') or use --backend jack; {NO_JACK_HINT}")
    return (f"PortAudio also plays through JACK (--device system; the default without a sound card): "
            f"{NO_JACK_HINT}\n  or use --backend jack")


#: OSC control surface (documented in docs/live.md).
OSC_ADDRESSES = {
    "/symphony/tempo": "f: nudge every tempo by this many percent (cumulative), e.g. 2.0 or -2.0",
    "/symphony/mute": "s i: mute (1) or unmute (0) a section",
    "/symphony/solo": "s i: solo (1) or unsolo (0) a section",
    "/symphony/jump": "s|i: jump to a passage (name), a bar (int) or by passages ('+1', '-1')",
    "/symphony/pause": "(no arguments) pause",
    "/symphony/resume": "(no arguments) resume",
    "/symphony/quit": "(no arguments) stop playback",
}
