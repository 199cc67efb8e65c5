"""The live engine without an audio server: identity with the offline render, switches.

Everything here is deterministic (switches are prepared synchronously).
"""

from __future__ import annotations

import numpy as np
import pytest

from symphony.catalog import load
from symphony.conductor import Conductor, SectionGains
from symphony.errors import ParameterError
from symphony.live import SWITCH_FADE_MS, LiveEngine, PlaySettings, parse_loop, ring_slots
from symphony.live.engine import chunk_for
from tests.conftest import SMALL_SCORE, write_score
from tests.live.clicks import find_clicks
from tests.live.conftest import PAD_SCORE

SR = 48000


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return load(write_score(tmp_path_factory.mktemp("small"), SMALL_SCORE))


@pytest.fixture(scope="module")
def pad(tmp_path_factory):
    return load(write_score(tmp_path_factory.mktemp("pad"), PAD_SCORE))


_OFFLINE: dict = {}


def offline(score, bar: int, sample_rate: int = SR) -> np.ndarray:
    """The offline render from ``bar`` as float32 (what JACK carries); cached per score text."""
    key = (score.source_sha256, bar, sample_rate)
    if key not in _OFFLINE:
        c = Conductor(score, sample_rate=sample_rate)
        _OFFLINE[key] = c.render(start_frame=c.frame_of_bar(bar)).astype(np.float32)
    return _OFFLINE[key]


def play_engine(engine: LiveEngine, n_blocks: int | None = None, actions=None) -> np.ndarray:
    """Render until the end (or ``n_blocks``); ``actions[k](engine)`` runs before block k."""
    out = np.zeros((2, engine.block_size), np.float32)
    blocks = []
    k = 0
    while n_blocks is None or k < n_blocks:
        if actions and k in actions:
            actions[k](engine)
        got = engine.render(out)
        if not got:
            break
        blocks.append(out[:, :got].copy())
        k += 1
    return np.concatenate(blocks, axis=1)


@pytest.mark.parametrize("bar, block_size, chunk_size", [(1, 256, None), (3, 1000, None), (1, 128, 128),
                                                      (2, 128, 4096), (1, 64, 1000)])
def test_live_blocks_equal_the_offline_render(small, bar, block_size, chunk_size):
    engine = LiveEngine(small, sample_rate=SR, block_size=block_size, start_bar=bar, chunk_size=chunk_size,
                        background=False)
    assert engine.chunk_size % block_size == 0
    live = play_engine(engine)
    ref = offline(small, bar)
    assert live.shape == ref.shape
    assert np.array_equal(live, ref), f"max |diff| {np.abs(live - ref).max()}"


def test_loop_repeats_the_bars_without_a_click(pad):
    engine = LiveEngine(pad, sample_rate=SR, block_size=256, loop=(2, 3), background=False)
    c = Conductor(pad, sample_rate=SR)
    first, end = c.frame_of_bar(2), c.frame_of_bar(4)
    length = end - first
    live = play_engine(engine, n_blocks=(3 * length) // 256)
    ref = offline(pad, 2)
    # the first pass is the offline render, sample for sample
    assert np.array_equal(live[:, :length], ref[:, :length])
    assert find_clicks(live, SR).size == 0
    # the second pass replays bar 2 (fresh instruments) while the first fades out
    fade = int(SWITCH_FADE_MS * SR / 1000)
    second = live[:, length + fade:2 * length]
    again = ref[:, fade:length]
    assert np.corrcoef(second[0], again[0])[0, 1] > 0.99


def test_reload_switches_at_a_bar_line_without_a_click(pad, tmp_path):
    louder = load(write_score(tmp_path, PAD_SCORE.replace('gain_db = -6.0\nsends', 'gain_db = 0.0\nsends')))
    engine = LiveEngine(pad, sample_rate=SR, block_size=256, background=False)
    c = Conductor(pad, sample_rate=SR)
    live = play_engine(engine, n_blocks=c.frame_of_bar(4) // 256, actions={40: lambda e: e.reload(louder)})
    # block 40 is in bar 1 (1.6 s per bar): the switch waits for the bar line of bar 2
    switch = c.frame_of_bar(2)
    ref = offline(pad, 1)
    assert np.array_equal(live[:, :switch], ref[:, :switch])
    assert not np.array_equal(live[:, switch:switch + 256], ref[:, switch:switch + 256])
    assert find_clicks(live, SR).size == 0
    assert engine.messages and "bar 2" in engine.messages[0]
    # after the fade the strings play 6 dB louder
    fade = int(SWITCH_FADE_MS * SR / 1000)
    seg = slice(switch + fade + 4800, c.frame_of_bar(3))
    ratio = np.sqrt(np.mean(live[:, seg].astype(float) ** 2) / np.mean(ref[:, seg].astype(float) ** 2))
    assert 1.6 < ratio < 2.2


def test_mute_ramps_a_section_to_silence(pad):
    engine = LiveEngine(pad, sample_rate=SR, block_size=256, background=False)
    actions = {20: lambda e: e.set_mute("strings", True), 120: lambda e: e.set_mute("strings", False)}
    live = play_engine(engine, n_blocks=200, actions=actions)
    # bar 1 holds strings only: muted, the dry strings are gone and the hall tail decays
    ref = offline(pad, 1)
    assert np.array_equal(live[:, :20 * 256], ref[:, :20 * 256])
    quiet = live[:, 100 * 256:120 * 256]
    assert np.sqrt(np.mean(quiet.astype(float) ** 2)) < 0.02 * np.sqrt(np.mean(ref[:, 100 * 256:120 * 256].astype(float) ** 2))
    assert find_clicks(live, SR).size == 0


def test_tempo_nudge_and_jump_take_effect_at_the_next_bar(pad):
    engine = LiveEngine(pad, sample_rate=SR, block_size=256, background=False)
    play_engine(engine, n_blocks=10, actions={0: lambda e: e.nudge_tempo(10.0)})
    play_engine(engine, n_blocks=400)
    assert engine.position().bpm == pytest.approx(165.0)
    engine.jump_to_passage("line")
    play_engine(engine, n_blocks=400)
    assert any("passage 'line'" in m for m in engine.messages)


def test_bad_controls_say_what_exists(pad):
    engine = LiveEngine(pad, sample_rate=SR, block_size=256, background=False)
    with pytest.raises(ParameterError, match="unknown section 'celo'; sections: strings, lead"):
        engine.set_mute("celo", True)
    with pytest.raises(ParameterError, match="unknown passage 'x'; passages: chords, line"):
        engine.jump_to_passage("x")
    with pytest.raises(ParameterError, match=r"--loop 3-9 is outside the score's bars 1-4"):
        LiveEngine(pad, sample_rate=SR, block_size=256, loop=(3, 9), background=False)
    with pytest.raises(ParameterError, match="--loop takes bars as FIRST-LAST"):
        parse_loop("a-b")


@pytest.mark.parametrize("sizes", [[1, 64, 65, 512, 8193]])
def test_section_gains_do_not_depend_on_the_block_size(sizes):
    n = sum(sizes)
    x = np.random.default_rng(1).standard_normal((2, n))

    def run(split):
        g = SectionGains(["a"], ramp_frames=700)
        g.set_target("a", 0.0)
        out, pos = [], 0
        for m in split:
            blocks = [x[:, pos:pos + m].copy()]
            g.apply(blocks, m)
            out.append(np.zeros((2, m)) if blocks[0] is None else blocks[0])
            pos += m
        return np.concatenate(out, axis=1)

    whole, split = run([n]), run(sizes)
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-12)
    ramp = whole[0, :700] / x[0, :700]
    np.testing.assert_allclose(ramp, 1 - np.arange(1, 701) / 700, atol=1e-9)
    assert not whole[:, 700:].any()


@pytest.mark.parametrize("block, rate, ahead_ms, slots", [
    (128, 48000, 13.3, 5),      # 13.3 ms of 2.67 ms blocks: 4.99 -> 5 (issue 7's 20 ms recipe)
    (128, 48000, 10.0, 4),      # rounded up, never down
    (256, 48000, 300.0, 57),
    (256, 44100, 1.0, 2),       # at least two slots (one playing, one ready)
    (16, 48000, 5000.0, 1024),  # capped at the ring's capacity
])
def test_render_ahead_is_rounded_up_to_whole_blocks(block, rate, ahead_ms, slots):
    assert ring_slots(block, rate, ahead_ms) == slots
    assert ring_slots(block, rate, ahead_ms) * block >= min(ahead_ms * rate / 1000, 1024 * block) - 1e-9


@pytest.mark.parametrize("ahead_frames, block, chunk", [(640, 128, 640), (4800, 256, 1024), (100, 256, 256)])
def test_default_chunk_fits_in_the_render_ahead(ahead_frames, block, chunk):
    assert chunk_for(ahead_frames, block) == chunk


def test_bad_live_settings_say_the_range():
    with pytest.raises(ParameterError, match=r"--ahead must be in \[1, 5000\] ms, got 0.5"):
        PlaySettings(ahead_ms=0.5)
    with pytest.raises(ParameterError, match=r"--chunk must be in \[1, 4096\] frames, got 5000"):
        PlaySettings(chunk_frames=5000)
