"""Live faults: the JACK server disappears (killed) or hangs (stopped) mid-performance; a
burst of score saves (broken ones included) during ``--watch``.

Each test starts its own JACK server (dummy driver, unique name passed only to the children
through their environment) and always kills it at teardown. jackd is installed by the test
set-up (scripts/install-system-deps.sh); without it these tests fail rather than skip, like
tests/live.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO
from tests.faults.helpers import long_score

SAMPLE_RATE = 48000
PERIOD = 256


class Jack:
    """A private JACK server for one test.

    .. note:: JACK keeps at most 8 servers in its shared registry and reclaims the entry of
       a dead server only when a server *of the same name* starts. A killed server (the
       fault under test) is therefore restarted and stopped cleanly at teardown, and each
       test uses a fixed name, so no run can leave entries behind.
    """

    def __init__(self, tmp_path: Path, name: str) -> None:
        self.jackd = shutil.which("jackd")
        if self.jackd is None:
            pytest.fail("jackd is not installed; the test set-up installs it (Debian package jackd2)")
        self.name = name
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_START_SERVER="1",
                        PYTHONPATH=str(REPO))
        self.log_path = tmp_path / "jackd.log"
        self.crashed = False
        self.frozen = False
        self.proc = self._start()

    def _start(self) -> subprocess.Popen:
        with open(self.log_path, "a") as log:
            proc = subprocess.Popen([self.jackd, "-n", self.name, "-d", "dummy", "-r", str(SAMPLE_RATE),
                                     "-p", str(PERIOD)], stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        deadline = time.monotonic() + 15
        while "system:playback_1" not in self.ports():
            if proc.poll() is not None or time.monotonic() > deadline:
                self._stop(proc)
                pytest.fail(f"jackd did not start:\n{self.log_path.read_text()}")
            time.sleep(0.2)
        return proc

    def ports(self) -> str:
        return subprocess.run(["jack_lsp"], env=self.env, capture_output=True, text=True).stdout

    def wait_for_port(self, port: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while port not in self.ports():
            if time.monotonic() > deadline:
                pytest.fail(f"no JACK port {port} after {timeout} s")
            time.sleep(0.2)

    def freeze(self) -> None:
        """The fault: the server hangs (SIGSTOP): it neither calls its clients nor answers."""
        self.frozen = True
        self.proc.send_signal(signal.SIGSTOP)

    def crash(self) -> None:
        """The fault: the server dies without a goodbye (SIGKILL)."""
        self.crashed = True
        self.proc.kill()
        self.proc.wait(10)

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # a clean stop unregisters the server
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def close(self) -> None:
        if self.frozen:
            self.proc.send_signal(signal.SIGCONT)
        self._stop(self.proc)
        if self.crashed:  # reclaim the dead server's registry entry (see the class note)
            self._stop(self._start())


@pytest.fixture
def jack(request, tmp_path):
    server = Jack(tmp_path, f"symphony-faults-{request.node.name[:40]}")
    yield server
    server.close()


class Player:
    """``symphony play`` as a child process, stderr collected by a thread (never blocks)."""

    def __init__(self, jack: Jack, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "symphony.cli", "play", *args, "--osc-port", "0"],
                                     env=jack.env, cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)  # its render process goes with it
        self.err: list[str] = []
        self._reader = threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True)
        self._reader.start()

    def wait(self, timeout: float) -> tuple[int | None, str]:
        """Exit status and stderr; None if it was still running after ``timeout`` (then killed)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None, "".join(self.err)
        self._reader.join(5)
        return self.proc.returncode, "".join(self.err)

    def kill(self) -> None:
        """Kill the player and its render process (their own session)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self._reader.join(5)


def _process_group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_jack_server_killed_mid_performance(jack, tmp_path):
    path = tmp_path / "09-long.toml"
    path.write_text(long_score(60))
    record = tmp_path / "rec" / "played.wav"
    # no --seconds: without detection it would play on forever
    player = Player(jack, str(path), "--record", str(record))
    try:
        jack.wait_for_port("symphony:output_1")
        time.sleep(1.5)
        jack.crash()
        killed_at = time.monotonic()
        status, err = player.wait(timeout=10)
        took = time.monotonic() - killed_at
        deadline = time.monotonic() + 5
        while not _process_group_gone(player.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)  # the render process is told to stop, then joined
        group_gone = _process_group_gone(player.proc.pid)
    finally:
        player.kill()
    assert status is not None, f"the player did not notice that the JACK server went away:\n{err}"
    assert "Traceback" not in err, err
    assert status == 1, err
    assert "error: the JACK server stopped" in err and "--from-bar" in err, err
    assert took < 5.0, f"noticed only after {took:.1f} s"
    assert group_gone, "the render process outlived the player"
    # the recording is finalized (renamed into place, cut to what was played), no temporary left
    assert [p.name for p in record.parent.iterdir()] == ["played.wav"]
    info = sf.info(str(record))
    assert info.samplerate == SAMPLE_RATE and info.channels == 2
    m, s = re.search(r"played (\d+):([\d.]+)", err).groups()
    played = 60 * int(m) + float(s)
    # it played before the crash (how long depends on the machine's load: the player starts
    # the stream only once its ring is full), and the file holds what the summary says was
    # played ("played" is rounded to 0.1 s), not the audio rendered ahead
    assert 0.25 < info.duration and played - 0.06 <= info.duration <= played + 0.06, (info.duration, err)


def test_hung_jack_server_ends_the_performance(jack, tmp_path):
    """A server that stops calling (and answering) is given up after AUDIO_STALL_S; closing
    its client is abandoned after a bounded wait, so the player still exits."""
    path = tmp_path / "09-long.toml"
    path.write_text(long_score(60))
    player = Player(jack, str(path))
    try:
        jack.wait_for_port("symphony:output_1")
        time.sleep(1.5)
        jack.freeze()
        frozen_at = time.monotonic()
        status, err = player.wait(timeout=20)
        took = time.monotonic() - frozen_at
    finally:
        player.kill()
    assert status == 1, err
    assert "Traceback" not in err, err
    assert "error: the JACK server stopped asking for audio (no block for 2" in err, err
    assert took < 10.0, f"exited only after {took:.1f} s"


def test_burst_of_saves_during_watch_never_stops_the_music(jack, tmp_path):
    path = tmp_path / "09-long.toml"
    good = long_score(60)
    path.write_text(good)
    capture = subprocess.Popen([sys.executable, "-m", "tests.live.jack_capture", str(tmp_path / "cap.npy"), "40"],
                               env=jack.env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert capture.stdout.readline().strip() == "ready", capture.stderr.read()
        player = Player(jack, str(path), "--watch", "--seconds", "14", "--device", "capture:in_")
        jack.wait_for_port("symphony:output_1")
        time.sleep(2.0)
        saves = [
            good.replace("c4:4 d4", "e4:4 d4", 1),                         # fine
            good[: len(good) // 2],                                         # caught mid-write
            "",                                                             # truncated to nothing
            good.replace("c4:4 d4", "h4:4 d4", 1),                          # bad note
            good.replace('name = "theme"', 'name = "theme"\nlegato = nan'),  # NaN
            good.replace('"poly_lead"', '"poly_leed"'),                     # unknown instrument
            good.replace('bpm = 120', 'bpm = 0'),                           # zero tempo
            "\xff\xfe garbage",                                             # not a score at all
        ]
        for k in range(3 * len(saves)):
            path.write_text(saves[k % len(saves)])  # in place, as editors do
            time.sleep(0.09)
        path.write_text(good.replace("c4:4 d4", "g4:4 d4", 1))  # the last save is good
        status, err = player.wait(timeout=60)
        capture.stdin.write("stop\n")
        capture.stdin.flush()
        capture.wait(20)
    finally:
        if capture.poll() is None:
            capture.kill()
        if "player" in locals():
            player.kill()
    assert status == 0, err
    assert "Traceback" not in err, err
    assert "still playing the last good version" in err, err
    assert "reloaded" in err, err
    audio = np.load(tmp_path / "cap.npy")
    loud = np.abs(audio).max(axis=0) > 1e-4
    sound = np.flatnonzero(loud)
    assert sound.size, "nothing was heard"
    first, last = sound[0], sound[-1]
    # the music went on until the player stopped (14 s after it started), well past the burst
    assert (last - first) / SAMPLE_RATE > 10.0, (first, last)
    window = SAMPLE_RATE // 4
    heard = loud[first:last + 1]
    silent = [k for k in range(0, heard.size - window, window) if not heard[k:k + window].any()]
    assert not silent, f"silent quarter-seconds at {[round(k / SAMPLE_RATE, 2) for k in silent]} s"
