"""Mixer features driven by the score: sidechain ducking, scene changes of the reverb."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from symphony.catalog import load
from symphony.conductor import NOTE_ON, Conductor, build_timeline
from tests.conftest import SMALL_SCORE, write_score


@pytest.fixture(scope="module")
def score(tmp_path_factory):
    return load(write_score(tmp_path_factory.mktemp("score"), SMALL_SCORE))


def strings_stem(score):
    conductor = Conductor(score)
    names = conductor.orchestra.section_names
    blocks = list(conductor.blocks(1024, stems=True))
    return conductor, np.concatenate([b.stems[names.index("strings")] for b in blocks], axis=1)


def test_strings_duck_under_the_kick(score):
    free = dataclasses.replace(score, sections=tuple(
        dataclasses.replace(s, compressor=None) if s.name == "strings" else s for s in score.sections))
    conductor, ducked = strings_stem(score)
    _, dry = strings_stem(free)
    sr = conductor.sample_rate
    timeline = build_timeline(score, conductor.tempo_map)["drums"]
    kicks = [int(f) for f, kind, voice in zip(timeline.frames, timeline.kinds, timeline.voices)
             if kind == NOTE_ON and voice == "kick"]
    ratios_on = []
    rms = lambda x: float(np.sqrt(np.mean(x ** 2)) + 1e-12)
    for k in kicks[2:8]:
        on = slice(k + int(0.005 * sr), k + int(0.04 * sr))
        ratios_on.append(rms(ducked[:, on]) / rms(dry[:, on]))
    # gain reduction right after kicks: at least 6 dB on average
    assert 20 * np.log10(np.mean(ratios_on)) < -6.0
    # the compressor only ever reduces the level
    assert rms(ducked) < rms(dry)


def test_passage_space_moves_every_reverb_bus(score):
    conductor = Conductor(score)
    bus = conductor.orchestra.buses[conductor.orchestra.bus_names.index("hall")]
    assert bus.spaces == ("factory_hall", "catacomb")
    assert [p.space for p in score.passages if p.space] == ["catacomb"]


def test_expression_fast_path_equals_interpolation():
    from symphony.orchestra import ExpressionCurve

    curve = ExpressionCurve([1000, 5000, 9000, 9000], [-24.0, 0.0, -6.0, -12.0],
                            [True, False, False, False], 1000)
    rng = np.random.default_rng(0)
    for _ in range(5000):
        start, n = int(rng.integers(-100, 12000)), int(rng.integers(1, 3000))
        t = np.arange(start, start + n, dtype=float)
        slow = 10 ** (np.interp(t, curve._x, curve._y) / 20)
        np.testing.assert_allclose(np.broadcast_to(curve.gain(start, n), (n,)), slow, rtol=0, atol=1e-15)


def test_master_chain_removes_dc_and_keeps_the_bass():
    from symphony.orchestra import MasterChain

    sr, period = 22050, 535  # 41.2 Hz (about E1, the lowest bass note), exactly periodic
    t = np.arange(4 * sr)
    tone = 0.3 * np.sin(2 * np.pi * t / period)
    x = np.vstack([tone + 0.05, tone - 0.05])   # a DC offset of -26 dBFS on each channel
    chain = MasterChain(sr, ceiling_dbtp=-1.0)
    lat = chain.latency_frames
    y = chain.process(np.concatenate([x, np.zeros((2, lat))], axis=1))[:, lat:]
    window = slice(2 * sr, 2 * sr + 80 * period)  # whole periods: the tone's own mean is 0
    settled = y[:, window]
    assert np.abs(settled.mean(axis=1)).max() < 1e-4          # the offset is gone
    gain = np.sqrt(np.mean(settled ** 2)) / np.sqrt(np.mean(tone[window] ** 2))
    assert 20 * np.log10(gain) == pytest.approx(0.0, abs=0.05)  # 41 Hz passes (-0.02 dB)


def test_acid_bass_release_on_a_low_note_is_click_free():
    from symphony.dsp.analysis import click_ratio
    from symphony.instruments.bass import AcidBass

    sr = 48000
    bass = AcidBass(sr, params={"cutoff_hz": 300.0, "resonance": 0.3, "env_mod": 0.3, "decay_ms": 400.0})
    bass.note_on(1, 40.0, 0.64)  # E2 held, then released into silence
    held = bass.process(sr)
    bass.note_off(1)
    y = np.concatenate([held, bass.process(sr // 2)], axis=1)[0]
    assert click_ratio(y, sr) < 5.0


# --- the mixer's fused kernels equal the numpy expressions they replace, bit for bit --


def test_fader_kernel_equals_numpy_and_catches_non_finite():
    from symphony.orchestra import _fader_kernel

    rng = np.random.default_rng(3)
    block = rng.standard_normal((2, 777))
    expr = 10.0 ** (rng.uniform(-20, 0, 777) / 20.0)
    out = np.empty((2, 777))
    assert _fader_kernel(block, expr, True, 0.8, 1.1, out)
    assert np.array_equal(out, np.vstack([block[0] * (expr * 0.8), block[1] * (expr * 1.1)]))
    assert _fader_kernel(block, np.full(1, 0.5), False, 0.8, 1.1, out)
    assert np.array_equal(out, np.vstack([block[0] * (0.5 * 0.8), block[1] * (0.5 * 1.1)]))
    for bad in (np.nan, np.inf, -np.inf):
        broken = block.copy()
        broken[1, 400] = bad
        assert not _fader_kernel(broken, expr, True, 0.8, 1.1, out)


def test_mix_kernel_equals_numpy_sends():
    from symphony.orchestra import _all_finite, _mix_kernel

    rng = np.random.default_rng(4)
    out = rng.standard_normal((2, 1000))
    mix, bus_in = rng.standard_normal((2, 1000)), rng.standard_normal((3, 2, 1000))
    buses, levels = np.array([2, 0]), np.array([0.25, 0.6])
    ref_mix, ref_bus = mix + out, bus_in.copy()
    for b, level in zip(buses, levels):
        ref_bus[b] += level * out
    _mix_kernel(out, mix, bus_in, buses, levels)
    assert np.array_equal(mix, ref_mix) and np.array_equal(bus_in, ref_bus)
    assert _all_finite(out)
    out[0, 999] = np.nan
    assert not _all_finite(out)


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_master_chain_dc_blocker_equals_the_scipy_biquad(sr):
    """The fused gain + DC blocker equals gain -> dsp.filters.Biquad (scipy) to 1e-12."""
    from symphony.dsp.filters import Biquad
    from symphony.orchestra import DC_BLOCK_HZ, MasterChain

    x = 0.3 * np.random.default_rng(sr).standard_normal((2, 9000)) + 0.05
    chain = MasterChain(sr, gain_db=-3.0)
    got, pos = [], 0
    for n in [1, 64, 65, 512, 8193, 165]:  # 9000 frames split unevenly: block-size invariance too
        got.append(chain.process(x[:, pos:pos + n]))
        pos += n
    dc = Biquad(sr, channels=2, kind="highpass", freq_hz=DC_BLOCK_HZ, q=0.7071)
    want = MasterChain(sr, gain_db=-3.0).limiter.process(dc.process(x * chain.gain))
    np.testing.assert_allclose(np.concatenate(got, axis=1), want, rtol=0, atol=1e-12)
