"""Scene reverb: the listener moves between spaces at passage starts."""

from __future__ import annotations

import numpy as np
import pytest

from symphony.dsp.reverb import Reverb
from symphony.spaces import CROSSFADE_MS, SceneReverb, _tail_frames

SR = 22050


def impulses(n, frames):
    x = np.zeros((2, n))
    for f in frames:
        x[:, f] = 1.0
    return x


def render(scene, x, block):
    out = np.zeros_like(x)
    for a in range(0, x.shape[1], block):
        out[:, a:a + block] = scene.process(x[:, a:a + block], a)
    return out


def test_output_equals_each_space_fed_through_the_crossfade():
    n, change = 3 * SR, SR
    x = impulses(n, [100, change + 200]) + 1e-3 * np.random.default_rng(1).standard_normal((2, n))
    scene = SceneReverb(SR, Reverb, {"space": "catacomb", "width": 0.8}, [(change, "laboratory")])
    out = render(scene, x, 512)
    xfade = int(round(CROSSFADE_MS * SR / 1000))
    t = np.arange(n)
    w_lab = np.clip((t - change) / xfade, 0.0, 1.0)
    cat = Reverb(SR, space="catacomb", width=0.8)
    lab = Reverb(SR, space="laboratory", width=0.8)
    expected = cat.process(x * (1.0 - w_lab)) + lab.process(x * w_lab)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_old_space_is_cut_only_below_minus_120_db():
    n, change = 4 * SR, SR // 2
    x = impulses(n, [10])
    scene = SceneReverb(SR, Reverb, {"space": "laboratory"}, [(change, "room")])
    out = render(scene, x, 1000)
    xfade = int(round(CROSSFADE_MS * SR / 1000))
    cut = change + xfade + _tail_frames(Reverb(SR, space="laboratory"), SR)
    assert cut < n
    assert np.all(out[:, cut:] == 0.0)  # the laboratory instance stopped and was reset
    peak = np.abs(out).max()
    assert np.abs(out[:, cut - 200:cut]).max() < peak * 1e-6  # what was cut was inaudible


@pytest.mark.parametrize("block", [1, 64, 4097])
def test_block_size_invariance(block):
    n = 2 * SR
    x = impulses(n, [5, 9000, 20000])
    schedule = [(6000, "nightclub"), (6100, "cathedral"), (15000, "catacomb")]
    ref = render(SceneReverb(SR, Reverb, {"space": "room"}, schedule), x, n)
    out = render(SceneReverb(SR, Reverb, {"space": "room"}, schedule), x, block)
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_same_space_twice_is_no_change():
    scene = SceneReverb(SR, Reverb, {"space": "plate"}, [(100, "plate")])
    assert scene.spaces == ("plate",)
