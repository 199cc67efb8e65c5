"""The render measures its output while writing it: the same digits as reading the file back.

The manifest's figures (peak, true peak, loudness, loudness range, the decoded samples'
sha256) come from ``render._OutputMeter``; ``symphony measure`` and
``manifest.measure_audio`` read the file. These tests hold the two to exact equality for
every depth and format, and check the loudness search that chooses the gain.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from symphony.catalog import load
from symphony.manifest import manifest_path, measure_audio
from symphony.render import (
    LUFS_TOLERANCE_LU,
    READ_BLOCK,
    RenderSettings,
    _OutputMeter,
    _Quantizer,
    next_loudness_gain,
    render_score,
)
from tests.conftest import SMALL_SCORE, write_score


@pytest.fixture(scope="module")
def score(tmp_path_factory):
    return load(write_score(tmp_path_factory.mktemp("score"), SMALL_SCORE))


@pytest.mark.parametrize("fmt,bits", [("wav", 16), ("wav", 24), ("wav", 32), ("flac", 16), ("flac", 24)])
@pytest.mark.parametrize("lufs", [None, -18.0])
def test_render_figures_equal_reading_the_file(score, tmp_path, fmt, bits, lufs):
    out = tmp_path / f"x.{fmt}"
    summary = render_score(score, out, RenderSettings(format=fmt, bits=bits, sample_rate=44100, lufs=lufs))
    from_file = measure_audio(out)
    assert summary.measured == from_file  # every figure and the samples' sha256, exactly
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["audio"]["samples_sha256"] == from_file["samples_sha256"]
    assert manifest["result"]["integrated_lufs"] == from_file["integrated_lufs"]
    assert manifest["result"]["true_peak_dbtp"] == from_file["true_peak_dbtp"]


def test_output_meter_does_not_depend_on_how_the_writes_are_cut(tmp_path):
    # the render hands the meter blocks of any size (the limiter's latency shifts them);
    # it re-cuts them into the reader's READ_BLOCK frames, so the partition cannot show
    rng = np.random.default_rng(4)
    y = 0.3 * rng.standard_normal((2, 2 * READ_BLOCK + 12345))
    q = _Quantizer(24, rng)(y)
    whole = _OutputMeter(48000, 24)
    whole.add(q)
    cut = _OutputMeter(48000, 24)
    for lo, hi in [(0, 1), (1, 700), (700, READ_BLOCK + 3), (READ_BLOCK + 3, q.shape[0])]:
        cut.add(q[lo:hi])
    assert whole.measured() == cut.measured()
    assert whole.measured()["n_frames"] == y.shape[1]


def test_one_pair_takes_a_one_to_one_step():
    assert next_loudness_gain([(3.0, -15.0)], -14.0) == pytest.approx(4.0)


def test_secant_step_follows_a_limited_curve():
    # a limiter that gives back 60 % of every dB above -16 LUFS: the 1:1 step would
    # approach the target geometrically; the secant lands on it in one step
    def out_lufs(g):
        raw = -24.0 + g
        return raw if raw < -16.0 else -16.0 + 0.4 * (raw - -16.0)

    tried = [(8.0, out_lufs(8.0))]
    g1 = next_loudness_gain(tried, -14.0)
    assert g1 == pytest.approx(10.0)  # 1:1 from -16 LUFS
    tried.append((g1, out_lufs(g1)))
    assert abs(out_lufs(g1) - -14.0) > 0.5  # the 1:1 step falls short
    g2 = next_loudness_gain(tried, -14.0)
    assert abs(out_lufs(g2) - -14.0) <= LUFS_TOLERANCE_LU


def test_secant_slope_is_kept_in_bounds():
    # measurements that disagree with any limiter (louder output for less gain) fall back
    # to the bounded slope instead of stepping far away
    step = next_loudness_gain([(5.0, -14.5), (5.1, -14.6)], -14.0) - 5.1
    assert 0.0 < step <= 0.6 / 0.2 + 1e-9


def test_normalized_render_lands_within_tolerance(score, tmp_path):
    summary = render_score(score, tmp_path / "x.wav", RenderSettings(lufs=-12.0))
    assert abs(summary.integrated_lufs - -12.0) <= LUFS_TOLERANCE_LU + 1e-3  # + dither
