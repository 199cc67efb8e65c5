"""Live-playback fixtures: a real JACK server (dummy driver) and a capture client.

The JACK server gets a unique name (``jackd -n``) that is passed only to child processes
through their environment, so nothing else on the machine is touched; it is always killed
at teardown. jackd is installed by the test set-up (``make test`` -> scripts/
install-system-deps.sh installs ``jackd2``): if it is missing the tests fail, they are not
skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO

SAMPLE_RATE = 48000
PERIOD = 256

#: Sustained strings and a soft lead, no drums: onsets are smooth, so any click the
#: detector finds is a glitch of the live engine.
PAD_SCORE = """
[chapter]
title = "Pad"
number = 8
seed = 7
sample_rate = 48000
key = "D minor"
tail_seconds = 1.0

[[tempo]]
bar = 1
bpm = 150

[bus.hall]
effect = "reverb"
space = "factory_hall"
gain_db = -6.0

[section.strings]
instrument = "string_ensemble"
gain_db = -6.0
sends = { hall = 0.3 }
params = { attack_ms = 60, release_ms = 200 }

[section.lead]
instrument = "poly_lead"
gain_db = -12.0
pan = 0.3
params = { attack_ms = 30, release_ms = 120 }

[[passage]]
name = "chords"
bar = 1
sections = ["strings"]
notes = "<d3 f3 a3>:1 | <c3 e3 g3>:1 | <bb2 d3 f3>:1 | <a2 c#3 e3>:1 |"
legato = 1.0

[[passage]]
name = "line"
bar = 3
sections = ["lead"]
notes = "a4:4 g4 f4 e4 | d4:2 e4:2 |"
"""


@dataclass
class JackServer:
    name: str
    env: dict
    process: subprocess.Popen


def _jackd() -> str:
    path = shutil.which("jackd")
    if path is None:
        pytest.fail("jackd is not installed; the test set-up installs it (make test, or "
                    "bash scripts/install-system-deps.sh: Debian package jackd2)")
    return path


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory):
    name = f"symphony-test-{os.getpid()}"
    log = open(tmp_path_factory.mktemp("jackd") / "jackd.log", "w+")
    proc = subprocess.Popen([_jackd(), "-n", name, "-d", "dummy", "-r", str(SAMPLE_RATE), "-p", str(PERIOD)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1", PYTHONPATH=str(REPO))
    try:
        deadline = time.monotonic() + 15
        while True:
            probe = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True)
            if "system:playback_1" in probe.stdout:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                said = log.read()
                hint = ""
                if "Too many servers already active" in said:
                    # JACK keeps 8 server slots in /dev/shm/jack-shm-registry; a jackd that was
                    # killed with SIGKILL never frees its slot.
                    hint = ("\nJACK's server registry is full of servers that were killed without "
                            "cleaning up; with no jackd running, remove /dev/shm/jack-shm-registry")
                pytest.fail(f"jackd did not start:\n{said}{hint}")
            time.sleep(0.2)
        yield JackServer(name, env, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


class Capture:
    """The capture client as a child process; ``stop()`` returns the recorded (2, n) float32."""

    def __init__(self, server: JackServer, out: Path, seconds: float = 60.0) -> None:
        self.out = out
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.live.jack_capture", str(out), str(seconds)],
                                     env=server.env, cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            pytest.fail(f"capture client did not start: {line} {self.proc.stderr.read()}")

    def stop(self) -> tuple[np.ndarray, int]:
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        self.proc.wait(20)
        count, _, frames = Path(str(self.out) + ".xruns").read_text().partition("\n")
        self.xrun_frames = [int(f) for f in frames.split()]  # where JACK reported each xrun
        return np.load(self.out), int(count)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def capture(jack_server, tmp_path):
    captures = []

    def start() -> Capture:
        c = Capture(jack_server, tmp_path / f"capture{len(captures)}.npy")
        captures.append(c)
        return c
    yield start
    for c in captures:
        c.kill()


def symphony_play(server: JackServer, *args: str, **kwargs) -> subprocess.Popen:
    """Start ``symphony play`` as a child process against ``server``."""
    return subprocess.Popen([sys.executable, "-m", "symphony.cli", "play", *args], env=server.env, cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


@dataclass
class BlockMatch:
    """How a capture lines up with the reference, block by block (see ``match_blocks``)."""

    offset: int            # capture index of reference frame 0
    matched: int           # captured blocks equal to their reference block
    total: int             # reference blocks
    underrun_gaps: int     # all-zero captured blocks where the reference has sound
    jumps: list            # (reference block expected, reference block found): lost/repeated blocks
    corrupt: list          # capture block indices that equal no reference block
    end: int               # capture index just after the last matched block
    damaged: list = dataclasses.field(default_factory=list)  # capture index of every block
    # that is not the next reference block (gaps, jumps, corrupt blocks)


def match_blocks(captured: np.ndarray, reference: np.ndarray, block: int = PERIOD) -> BlockMatch:
    """Line ``captured`` up with ``reference`` one JACK period at a time.

    Alignment: the first non-zero sample of each (the player's blocks are JACK periods,
    so they start on period boundaries of the capture). Each captured block is then looked
    up among the reference blocks by its exact bytes. In a clean run every block is the
    next reference block; a JACK xrun can lose or repeat a period of the capture and an
    underrun inserts a silent block, which are counted, but a block that equals no
    reference block at all is *corrupt*.
    """
    ref_nz = np.flatnonzero(np.abs(reference).max(axis=0))
    cap_nz = np.flatnonzero(np.abs(captured).max(axis=0))
    assert ref_nz.size and cap_nz.size, "reference or capture is silent"
    first = ref_nz[0] // block
    offset = int(cap_nz[0] - (ref_nz[0] - first * block)) - first * block
    n_ref = reference.shape[1] // block
    index: dict[bytes, int] = {}
    for k in range(n_ref):
        index.setdefault(np.ascontiguousarray(reference[:, k * block:(k + 1) * block]).tobytes(), k)
    expected, matched, gaps, jumps, corrupt, damaged = first, 0, 0, [], [], []
    pos = offset + first * block
    end = pos
    while expected < n_ref and pos + block <= captured.shape[1]:
        c = captured[:, pos:pos + block]
        r = reference[:, expected * block:(expected + 1) * block]
        if np.array_equal(c, r):
            matched += 1
            expected += 1
            end = pos + block
        elif not c.any():
            gaps += 1
            damaged.append(pos)
        else:
            damaged.append(pos)
            found = index.get(np.ascontiguousarray(c).tobytes())
            if found is None:
                corrupt.append(pos)
            else:
                jumps.append((expected, found))
                matched += 1
                expected = found + 1
                end = pos + block
        pos += block
    return BlockMatch(offset, matched, n_ref - first, gaps, jumps, corrupt, end, damaged)
