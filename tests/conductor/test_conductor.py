"""The block loop: block-size invariance, determinism, stems, dynamics."""

from __future__ import annotations

import numpy as np
import pytest

from symphony.catalog import load
from symphony.conductor import Conductor
from tests.conftest import SMALL_SCORE, write_score


@pytest.fixture(scope="module")
def score(tmp_path_factory):
    return load(write_score(tmp_path_factory.mktemp("score"), SMALL_SCORE))


@pytest.fixture(scope="module")
def reference(score):
    return Conductor(score).render(block_size=4096, master=False)


def test_score_is_not_silent(reference):
    assert np.abs(reference).max() > 0.05
    assert np.isfinite(reference).all()


@pytest.mark.parametrize("block_size", [64, 256, 1000, 4097])
def test_audio_does_not_depend_on_block_size(score, reference, block_size):
    audio = Conductor(score).render(block_size=block_size, master=False)
    assert audio.shape == reference.shape
    np.testing.assert_allclose(audio, reference, rtol=0, atol=1e-9)


def test_mastered_audio_does_not_depend_on_block_size(score):
    a = Conductor(score).render(block_size=64)
    b = Conductor(score).render(block_size=4096)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_same_seed_same_samples(score, reference):
    again = Conductor(score).render(block_size=4096, master=False)
    assert np.array_equal(again, reference)


def test_other_seed_changes_generative_choices(tmp_path, score):
    other = load(write_score(tmp_path, SMALL_SCORE.replace("seed = 1927", "seed = 2026")))
    walk = lambda s: [(n.start_beat, n.pitch) for n in s.notes if n.passage == "chance bass"]
    assert walk(score) != walk(other)
    a = Conductor(score).render(master=False)
    b = Conductor(other).render(master=False)
    assert a.shape == b.shape and not np.allclose(a, b, atol=1e-3)


def test_stems_sum_to_the_premaster_mix(score):
    conductor = Conductor(score)
    mixes, stems = [], []
    for block in conductor.blocks(1024, stems=True):
        mixes.append(block.mix)
        stems.append(block.stems)
    mix = np.concatenate(mixes, axis=1)
    stem_audio = np.concatenate(stems, axis=2)
    assert stem_audio.shape[0] == len(conductor.orchestra.stem_names) == 6
    np.testing.assert_allclose(stem_audio.sum(axis=0), mix, rtol=0, atol=1e-12)
    # every section and the reverb bus contribute sound
    for name, stem in zip(conductor.orchestra.stem_names, stem_audio):
        assert np.abs(stem).max() > 1e-4, name


def test_crescendo_raises_the_level(tmp_path):
    text = SMALL_SCORE.replace('dynamics = "1:p 1:< 3:f"', 'dynamics = "1:pp 1:< 4:ff"')
    score = load(write_score(tmp_path, text))
    conductor = Conductor(score)
    names = conductor.orchestra.section_names
    blocks = list(conductor.blocks(2048, stems=True))
    strings = np.concatenate([b.stems[names.index("strings")] for b in blocks], axis=1)
    sr = conductor.sample_rate
    bar = lambda n: conductor.frame_of_bar(n)
    rms = lambda a, b: float(np.sqrt(np.mean(strings[:, a:b] ** 2)))
    first = rms(bar(1) + sr // 2, bar(2))
    last = rms(bar(3) + sr // 4, bar(4))
    # pp -> ff is 24 dB of expression; the notes differ, so allow a wide margin
    assert 20 * np.log10(last / first) > 10.0


def test_start_frame_skips_earlier_notes(score):
    conductor = Conductor(score)
    start = conductor.frame_of_bar(3)
    late = conductor.render(master=False, start_frame=start)
    assert late.shape[1] == conductor.n_frames - start
    assert np.abs(late).max() > 0.01
