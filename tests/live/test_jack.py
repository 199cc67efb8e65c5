"""End to end through a real JACK server (dummy driver): ``symphony play`` as a child
process, a separate JACK client capturing what reached the server.

Compared sample for sample with the offline render (after alignment). Underruns are
not asserted here (timing belongs in the benchmark), but a gap the player reports as
an underrun is the only difference the comparison tolerates.
"""

from __future__ import annotations

import dataclasses
import re
import signal
import subprocess
import sys
import time

import numpy as np
import soundfile as sf

from symphony.catalog import load
from symphony.conductor import Conductor
from tests.conftest import REPO, SMALL_SCORE, write_score
from tests.live.clicks import find_clicks
from tests.live.conftest import PAD_SCORE, SAMPLE_RATE, match_blocks, symphony_play
from tests.live.test_engine import offline


def _underruns(stderr: str) -> int:
    match = re.search(r"underruns: (\d+)", stderr)
    assert match, f"no summary in:\n{stderr}"
    return int(match.group(1))


def _check_identity(m, underruns: int, xruns: int) -> None:
    """Every captured block is its offline block; losses only where JACK or the player said so.

    With no JACK xrun the capture must be the offline render exactly, except for silent
    blocks the player reported as underruns. An xrun (the machine stalled a JACK cycle)
    lets JACK lose, repeat, silence or tear periods of the capture, so then only most of
    the blocks must match and any damage must be explained by the xruns.
    """
    if xruns == 0:
        assert not m.corrupt, f"{len(m.corrupt)} captured blocks equal no block of the offline render"
        assert not m.jumps, f"blocks lost or repeated without an xrun: {m.jumps[:5]}"
        assert m.underrun_gaps <= underruns
        assert m.matched == m.total
    else:
        assert len(m.corrupt) <= xruns
        assert m.underrun_gaps <= underruns + 4 * xruns
        assert m.matched >= 0.8 * m.total, f"only {m.matched} of {m.total} blocks captured intact"



def check_played_offline_render(path, record, captured: np.ndarray, xruns: int, xrun_frames: list[int],
                                err: str, label: str) -> tuple[np.ndarray, object]:
    """A performance of ``path`` from bar 2: ``--record`` holds exactly the offline render, the
    capture is that render block for block (losses only where JACK or the player said so),
    then its last partial block, then silence. Returns the offline render and the match."""
    ref = offline(load(path), 2, SAMPLE_RATE)
    # --record wrote exactly what the renderer handed to the audio thread
    recorded, rate = sf.read(record, dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE
    np.testing.assert_array_equal(recorded.T, ref)
    m = match_blocks(captured, ref)
    print(f"{label}: {m.matched}/{m.total} blocks identical to the offline render, "
          f"{len(m.jumps)} jumps, {m.underrun_gaps} gaps, {xruns} JACK xruns at {xrun_frames[:20]}")
    _check_identity(m, _underruns(err), xruns)
    rest = ref.shape[1] % 256
    if xruns == 0:
        np.testing.assert_array_equal(captured[:, m.end:m.end + rest], ref[:, ref.shape[1] - rest:])
    assert not captured[:, m.end + rest + 256 * len(m.jumps):].any()
    return ref, m

def unexplained_clicks(captured: np.ndarray, ref: np.ndarray, m, xrun_frames: list[int],
                       block: int = 256) -> list[int]:
    """Clicks in the played part of a capture that neither the offline render has at the same
    place nor a reported JACK xrun or a damaged block (gap, jump, torn block) explains.

    A click at capture frame q, in a block that equals reference block k, is the offline
    render's own click if the reference has one at ``k * block + (q - block start)`` (+-2).
    Otherwise it must lie within 10 ms (the detector's look-back window) plus one period
    after a damaged block or an xrun.
    """
    ref_clicks = set(find_clicks(ref, SAMPLE_RATE).tolist())
    index = {np.ascontiguousarray(ref[:, k * block:(k + 1) * block]).tobytes(): k
             for k in range(ref.shape[1] // block)}
    start = m.offset + (np.flatnonzero(np.abs(ref).max(axis=0))[0] // block) * block
    played = captured[:, start:m.end]
    causes = np.array(sorted(m.damaged + list(xrun_frames)) or [-10**9])
    reach = block + SAMPLE_RATE // 100
    bad = []
    for q in (find_clicks(played, SAMPLE_RATE) + start).tolist():
        b = start + (q - start) // block * block
        k = index.get(np.ascontiguousarray(captured[:, b:b + block]).tobytes())
        if k is not None and any(k * block + (q - b) + d in ref_clicks for d in range(-2, 3)):
            continue  # the music's own onset
        before = causes[causes <= q + 2]
        if before.size and q - before[-1] <= reach:
            continue  # right after an xrun or a damaged block
        bad.append(q)
    return bad


def test_played_audio_equals_the_offline_render(jack_server, capture, tmp_path):
    path = write_score(tmp_path, SMALL_SCORE)
    cap = capture()
    record = tmp_path / "played.wav"
    player = symphony_play(jack_server, str(path), "--from-bar", "2", "--osc-port", "0",
                           "--device", "capture:in_", "--record", str(record))
    out, err = player.communicate(timeout=90)
    captured, xruns = cap.stop()
    assert player.returncode == 0, err
    assert "Traceback" not in err
    ref, m = check_played_offline_render(path, record, captured, xruns, cap.xrun_frames, err, "capture")
    # no click that the offline render lacks
    if xruns == 0 and m.underrun_gaps == 0:
        played = captured[:, m.offset:m.offset + ref.shape[1]]
        np.testing.assert_array_equal(played, ref)
        np.testing.assert_array_equal(find_clicks(played, SAMPLE_RATE), find_clicks(ref, SAMPLE_RATE))
    # with or without xruns: every discontinuity is the music's own or explained by JACK/underruns
    print(f"xruns reported at capture frames {cap.xrun_frames}; damaged blocks at {m.damaged[:10]}")
    assert not unexplained_clicks(captured, ref, m, cap.xrun_frames)


def test_loop_and_ctrl_c_stop_cleanly(jack_server, capture, tmp_path):
    path = write_score(tmp_path, PAD_SCORE)
    cap = capture()
    player = symphony_play(jack_server, str(path), "--loop", "2-3", "--osc-port", "0",
                           "--device", "capture:in_")
    score = load(path)
    c = Conductor(score, sample_rate=SAMPLE_RATE)
    loop_len = c.frame_of_bar(4) - c.frame_of_bar(2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until it plays, then let the loop come round
        ports = subprocess.run(["jack_lsp"], env=jack_server.env, capture_output=True, text=True).stdout
        if "symphony:output_1" in ports:
            break
        time.sleep(0.2)
    time.sleep(2.5 * loop_len / SAMPLE_RATE + 0.5)
    player.send_signal(signal.SIGINT)
    out, err = player.communicate(timeout=30)
    time.sleep(0.3)
    captured, xruns = cap.stop()
    assert player.returncode == 130, err
    assert "Traceback" not in err and "underruns:" in err
    ports = subprocess.run(["jack_lsp"], env=jack_server.env, capture_output=True, text=True).stdout
    assert "symphony" not in ports, "the player's JACK client is still there"
    # the first pass is the offline render from bar 2, then the loop comes round
    ref = offline(score, 2, SAMPLE_RATE)[:, :loop_len]
    m = match_blocks(captured, ref)
    print(f"loop capture: {m.matched}/{m.total} first-pass blocks identical, {xruns} JACK xruns")
    _check_identity(m, _underruns(err), xruns)
    sound = np.flatnonzero(np.abs(captured).max(axis=0))
    played = captured[:, m.offset:sound[-1] + 1]
    assert played.shape[1] > 2 * loop_len, "the loop did not come round"
    if xruns == 0 and _underruns(err) == 0:
        assert find_clicks(played, SAMPLE_RATE).size == 0
    else:
        print(f"click detector skipped: {xruns} xruns, {_underruns(err)} underruns")
    # Ctrl-C faded out: the last samples before the silence are tiny
    assert np.abs(captured[:, sound[-1] - 8:sound[-1] + 1]).max() < 0.01
    assert not captured[:, sound[-1] + 1:].any()


def test_no_jack_server_says_how_to_start_one(tmp_path):
    path = write_score(tmp_path, PAD_SCORE)
    env = {"JACK_DEFAULT_SERVER": f"symphony-absent-{time.time_ns()}", "JACK_NO_START_SERVER": "1",
           "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "symphony.cli", "play", str(path)], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no JACK server is running" in result.stderr
    assert "jackd -d dummy -r 48000 -p 256" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_click_check_blames_only_reported_damage():
    """The capture check itself: a lost block is a click; it is excused only by an xrun report."""
    t = np.arange(64 * 256) / SAMPLE_RATE
    ref = np.tile(0.5 * np.sin(2 * np.pi * 330 * t, dtype=np.float64), (2, 1)).astype(np.float32)
    ref[:, :256] = 0.0  # silence first, then the tone from a block boundary
    ref[:, 256:512] *= np.linspace(0, 1, 256, dtype=np.float32)  # a smooth onset
    captured = np.concatenate([np.zeros((2, 1000), np.float32), ref[:, :20 * 256], ref[:, 21 * 256:]], axis=1)
    m = match_blocks(captured, ref)
    assert m.jumps == [(20, 21)] and m.damaged == [1000 + 20 * 256]
    assert unexplained_clicks(captured, ref, m, xrun_frames=[]) == []  # the jump is damage JACK caused
    lost = dataclasses.replace(m, damaged=[])
    assert unexplained_clicks(captured, ref, lost, xrun_frames=[]), "a lost block must click"
    assert unexplained_clicks(captured, ref, lost, xrun_frames=[1000 + 20 * 256 - 100]) == []
