"""Deterministic pyo test: a manual server advanced one buffer at a time.

The audio callback, the ring and pyo's TableScan are the real ones; a TableFill taps
the signal that goes to the server's output, so the test sees exactly what was played.
"""

from __future__ import annotations

import numpy as np
import pytest

from symphony.catalog import load
from symphony.live import BlockRing, LiveEngine, PyoOutput, RingFeeder
from tests.conftest import SMALL_SCORE, write_score
from tests.live.test_engine import offline

SR = 48000
BLOCK = 256


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return load(write_score(tmp_path_factory.mktemp("small"), SMALL_SCORE))


@pytest.fixture(scope="module")
def server_parts():
    """One manual server for the module: pyo does not survive a second Server in a process."""
    from symphony.live.output import _import_pyo

    pyo = _import_pyo()
    ring = BlockRing(max_slots=16, max_block=BLOCK)
    ring.configure(BLOCK, 8)
    output = PyoOutput(ring, audio="manual", sample_rate=SR, buffer_size=BLOCK)
    tap = pyo.DataTable(size=BLOCK, chnls=2)
    fill = pyo.TableFill(output.scan, tap)
    parts = {"ring": ring, "output": output, "tap": tap, "fill": fill,
             "buffers": [np.asarray(tap.getBuffer(c)) for c in (0, 1)]}
    yield parts
    output.server.stop()
    _KEEP.append((output, parts))  # freed at exit: a pyo object freed after its server crashes


_KEEP: list = []


@pytest.fixture
def manual_output(server_parts):
    ring, output, buffers = server_parts["ring"], server_parts["output"], server_parts["buffers"]
    ring.reset()
    output.mode = output.PLAY

    def step() -> np.ndarray:
        output.process()
        return np.stack(buffers).copy()

    def start() -> None:
        output.start()
        for _ in range(output.lead_in_blocks if output.mode == output.STARTING else 0):
            assert not step().any()  # silence while pyo fades its output in
    return ring, output, step, start


def test_manual_server_plays_the_offline_render(small, manual_output):
    ring, output, step, start = manual_output
    engine = LiveEngine(small, sample_rate=output.sample_rate, block_size=output.block_size,
                        start_bar=2, background=False)
    feeder = RingFeeder(engine, ring)
    feeder.fill()
    start()
    played = []
    while not (ring.counters[ring.FINISHED] and ring.fill_level() == 0):
        played.append(step())
        feeder.fill()
    ref = offline(small, 2)
    live = np.concatenate(played, axis=1)[:, :ref.shape[1]]
    assert int(ring.counters[ring.UNDERRUNS]) == 0
    assert np.array_equal(live, ref), f"max |diff| {np.abs(live - ref).max()}"
    # the heartbeat the player watches: one count per audio callback, silence after the end too
    beats = int(ring.counters[ring.CALLBACKS])
    assert not step().any()
    assert int(ring.counters[ring.CALLBACKS]) == beats + 1
    assert int(ring.counters[ring.UNDERRUNS]) == 0  # the end is not an underrun
    times = output.callback_times()
    assert times.size >= len(played) and 0 < times.min() and times.max() < 0.05
    feeder.close()


def test_pause_fades_out_holds_and_resumes_where_it_stopped(small, manual_output):
    ring, output, step, start = manual_output
    engine = LiveEngine(small, sample_rate=SR, block_size=BLOCK, background=False)
    feeder = RingFeeder(engine, ring)
    feeder.fill()
    start()
    blocks = []
    for k in range(60):
        if k == 20:
            output.pause()
        if k == 30:
            output.resume()
        blocks.append(step())
        feeder.fill()
    ref = offline(small, 1)[:, :60 * BLOCK].reshape(2, 60, BLOCK).transpose(1, 0, 2)
    fade_out = output._fade_out
    assert all(np.array_equal(blocks[k], ref[k]) for k in range(20))
    np.testing.assert_array_equal(blocks[20], ref[20] * fade_out)      # faded, last sample near 0
    assert all(not blocks[k].any() for k in range(21, 30))              # paused: silence, no underrun
    np.testing.assert_array_equal(blocks[30], ref[21] * output._fade_in)  # resumes at the next block
    assert all(np.array_equal(blocks[k], ref[k - 9]) for k in range(31, 60))
    assert int(ring.counters[ring.UNDERRUNS]) == 0
    feeder.close()
