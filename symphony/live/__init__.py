"""Real-time sink: Conductor blocks -> pyo server (JACK or PortAudio).

Modules: ``engine`` (the performance: blocks, switches, master chain; numpy only),
``ring`` (shared-memory block ring and the render process), ``output`` (the pyo server
and its audio callback: the only module that imports pyo), ``player`` (``play()``: the
main thread with status line, keys, OSC and file watch).

Design (see ``docs/live.md``)::

    render process                         |  player process (pyo)
    LiveEngine: Conductor.blocks -> master |  audio thread: Server callback copies one
    chain -> float32 -> BlockRing slot ----+-> finished slot into a DataTable that a
    (renders ahead, owns every switch)     |  TableScan plays; no allocation, no lock,
                                           |  no I/O; an empty ring counts an underrun
                                           |  main thread: status line, keys, OSC, watch

The Conductor and the master chain render chunks of several blocks (``chunk_for``) into
the engine, which hands them out a block at a time; the ring holds ``--ahead`` ms of
finished blocks. The player watches the audio server: pyo's JACK shutdown notice, and a
heartbeat (the callback counts its calls) for a server that stops calling; either ends
the performance with :class:`AudioServerLostError` (exit status 1).

The renderer runs in its own process, so the audio thread never waits for the GIL while
numpy/numba render the next block. The two processes share one anonymous memory map (the
ring); each counter has a single writer, so no lock is needed.

Everything that changes the music while it plays (a loop, a jump, a hot reload, a tempo
nudge) is a *switch*: a fresh Conductor is prepared in a background thread, started at a
bar, and takes over at a bar boundary (sample-accurate) while the old one fades out over
``SWITCH_FADE_MS`` (raised cosine). The master chain runs on without a break. Until the
first switch the samples equal ``Conductor.render(start_frame=frame_of_bar(bar))`` cast to
float32, which is what the tests check on a JACK capture.

.. note:: pyo (its double-precision build ``pyo64``) is imported only inside the function
   that opens the audio server: importing it prints a notice about wxPython.
"""

from symphony.live.engine import (AUDIO_STALL_S, BACKENDS, DEFAULT_AHEAD_MS, DEFAULT_OSC_PORT, MUTE_RAMP_MS,
                                  SWITCH_FADE_MS, SWITCH_LEAD_MS, AudioServerLostError, LiveEngine,
                                  NoAudioDeviceError, PlaySettings, Position, chunk_for, parse_loop)
from symphony.live.output import OSC_ADDRESSES, PyoOutput
from symphony.live.player import PlaySummary, play
from symphony.live.ring import BlockRing, RingFeeder, ring_slots

__all__ = ["AUDIO_STALL_S", "BACKENDS", "DEFAULT_AHEAD_MS", "DEFAULT_OSC_PORT", "MUTE_RAMP_MS", "OSC_ADDRESSES",
           "SWITCH_FADE_MS", "SWITCH_LEAD_MS", "AudioServerLostError", "BlockRing", "LiveEngine",
           "NoAudioDeviceError", "PlaySettings", "PlaySummary", "Position", "PyoOutput", "RingFeeder",
           "chunk_for", "parse_loop", "play", "ring_slots"]
