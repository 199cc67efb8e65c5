"""SIGINT/SIGTERM in the middle of a render of the real console script: exit status 130,
one line on stderr, no traceback, the previous file intact, no temporary file left.

Both signals end with status 130 (the shell's code for Ctrl-C): SIGTERM is turned into the
same clean interruption, so scripts see one "interrupted" status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import write_score
from tests.faults.helpers import console_script, leftovers, long_score

PREVIOUS = b"previous render"


def start_render(tmp_path: Path, names: list[str], *extra: str) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "renders"
    out.mkdir()
    paths = []
    for name in names:
        paths.append(str(write_score(tmp_path, long_score(400), f"{name}.toml")))
        (out / f"{name}.wav").write_bytes(PREVIOUS)
    env = dict(os.environ, PYTHONFAULTHANDLER="1")  # SIGABRT dumps the stacks if it ever hangs
    proc = subprocess.Popen(console_script() + ["render", *paths, "--out-dir", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return proc, out


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[str, str]:
    """Wait for the process; if it hangs, dump its stacks (SIGABRT) and fail."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        stdout, stderr = proc.communicate(timeout=30)
        pytest.fail(f"the render did not stop within {timeout} s of the signal:\n{stderr}")


def wait_for_temporaries(proc: subprocess.Popen, out: Path, count: int, timeout: float = 60.0) -> None:
    """Block until ``count`` hidden temporaries exist in ``out`` (the render has started)."""
    deadline = time.monotonic() + timeout
    while len(leftovers(out)) < count:
        if proc.poll() is not None:
            pytest.fail(f"render ended before the signal: {proc.returncode} {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the render never started writing")
        time.sleep(0.02)
    time.sleep(0.3)  # a few blocks into the render


@pytest.mark.parametrize("sig,extra", [(signal.SIGINT, []), (signal.SIGTERM, ["--lufs", "-18", "--stems"])],
                         ids=["SIGINT-one-pass", "SIGTERM-loudness+stems"])
def test_signal_mid_render(tmp_path, sig, extra):
    proc, out = start_render(tmp_path, ["09-long"], *extra)
    wait_for_temporaries(proc, out, 1)
    proc.send_signal(sig)
    stdout, stderr = finish(proc)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip() == "interrupted: no file was written; any previous render is intact"
    assert stdout == ""
    assert (out / "09-long.wav").read_bytes() == PREVIOUS
    assert leftovers(out) == [] and os.listdir(out) == ["09-long.wav"]


def test_sigterm_stops_parallel_workers(tmp_path):
    proc, out = start_render(tmp_path, ["09-a", "09-b"], "--jobs", "2")
    wait_for_temporaries(proc, out, 2)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = finish(proc)
    assert time.monotonic() - started < 20  # the workers stop; nobody waits for the renders to finish
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "interrupted: no file was written" in stderr
    for name in ("09-a", "09-b"):
        assert (out / f"{name}.wav").read_bytes() == PREVIOUS
    assert leftovers(out) == []


@pytest.mark.parametrize("when", ["render", "commit"])
def test_a_swallowed_interrupt_still_stops_the_render(tmp_path, when):
    """The signal handlers also set ``STOP_REQUESTED``; the render checks it every block and
    before renaming anything into place, so a KeyboardInterrupt that some library swallowed
    (seen once while numba compiled on a cold cache) cannot let the render finish."""
    from symphony.catalog import load
    from symphony.render import STOP_REQUESTED, RenderSettings, render_score

    score = load(str(write_score(tmp_path, long_score(8), "09-stop.toml")))
    out = tmp_path / "renders"
    out.mkdir()
    (out / "09-stop.wav").write_bytes(PREVIOUS)

    def progress(stage, done, total):  # the handler ran, its exception went nowhere
        if when == "render" or stage.startswith("loudness"):
            STOP_REQUESTED.set()

    try:
        with pytest.raises(KeyboardInterrupt):
            render_score(score, out / "09-stop.wav", RenderSettings(lufs=-20.0 if when == "commit" else None),
                         progress=progress)
    finally:
        STOP_REQUESTED.clear()
    assert (out / "09-stop.wav").read_bytes() == PREVIOUS
    assert leftovers(out) == [] and os.listdir(out) == ["09-stop.wav"]
