"""Offline sink: formats, loudness normalization, stems, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from symphony.catalog import load
from symphony.conductor import Conductor
from symphony.dsp.loudness import LoudnessMeter, integrated_loudness, true_peak_dbtp
from symphony.errors import ParameterError, RenderError
from symphony.render import RenderSettings, output_path, render_score
from tests.conftest import SMALL_SCORE, write_score


@pytest.fixture(scope="module")
def score(tmp_path_factory):
    return load(write_score(tmp_path_factory.mktemp("score"), SMALL_SCORE))


def test_wav_render_matches_the_conductor(score, tmp_path):
    out = tmp_path / "x.wav"
    summary = render_score(score, out, RenderSettings(bits=32))
    audio, sr = sf.read(out, always_2d=True)
    expected = Conductor(score).render()
    assert sr == 22050 and audio.shape == expected.T.shape
    np.testing.assert_allclose(audio.T, expected, atol=1e-7)  # float32 file
    assert summary.n_frames == audio.shape[0]
    assert summary.true_peak_dbtp <= -1.0 + 0.05
    assert summary.peak_dbfs == pytest.approx(20 * np.log10(np.abs(audio).max()), abs=0.01)
    assert not list(tmp_path.glob(".*"))  # no temporary left


@pytest.mark.parametrize("fmt,bits,subtype", [("wav", 16, "PCM_16"), ("wav", 24, "PCM_24"),
                                              ("flac", 16, "PCM_16"), ("flac", 24, "PCM_24")])
def test_formats_and_depths(score, tmp_path, fmt, bits, subtype):
    out = tmp_path / f"x.{fmt}"
    render_score(score, out, RenderSettings(format=fmt, bits=bits, sample_rate=44100))
    info = sf.info(out)
    assert (info.format, info.subtype, info.samplerate, info.channels) == (fmt.upper(), subtype, 44100, 2)
    audio, _ = sf.read(out)
    assert np.abs(audio).max() > 0.05
    assert np.abs(audio).max() < 10 ** (-0.9 / 20)  # under the ceiling, no clipping


def test_16_bit_is_tpdf_dithered(score, tmp_path):
    out = tmp_path / "x.wav"
    render_score(score, out, RenderSettings(bits=16))
    ints, _ = sf.read(out, dtype="int16")
    exact = Conductor(score).render().T * 32767.0
    err = ints - exact
    # TPDF of +-1 LSB plus rounding: error within 1.5 LSB, mean ~0, variance 1/6 + 1/12 = 0.25
    assert np.abs(err).max() <= 1.5 + 1e-6
    assert abs(err.mean()) < 0.02
    assert err.var() == pytest.approx(0.25, rel=0.1)


def test_flac_cannot_hold_float():
    with pytest.raises(ParameterError, match="FLAC holds 16 or 24-bit"):
        RenderSettings(format="flac", bits=32)


@pytest.mark.parametrize("target", [-14.0, -23.0])
def test_loudness_normalization_hits_the_target(score, tmp_path, target):
    out = tmp_path / "x.wav"
    summary = render_score(score, out, RenderSettings(bits=32, lufs=target))
    audio, sr = sf.read(out, always_2d=True)
    measured = integrated_loudness(audio.T, sr)
    assert measured == pytest.approx(target, abs=0.1)
    assert summary.integrated_lufs == pytest.approx(measured, abs=0.01)
    assert true_peak_dbtp(audio.T, sr) <= -1.0 + 0.1


def test_stems_written_and_sum_to_the_limiter_input(score, tmp_path):
    out = tmp_path / "x.wav"
    summary = render_score(score, out, RenderSettings(bits=32, stems=True))
    stems_dir = tmp_path / "x.stems"
    names = sorted(p.name for p in stems_dir.iterdir())
    assert names == sorted(["drums.wav", "bass.wav", "strings.wav", "lead.wav",
                            "bus-hall.wav", "bus-echo.wav"])
    assert len(summary.stems) == 6
    total = sum(sf.read(p, always_2d=True)[0] for p in stems_dir.iterdir())
    premaster = Conductor(score).render(master=False).T
    np.testing.assert_allclose(total, premaster, atol=1e-5)  # six float32 files


def test_stems_with_normalization_carry_the_gain(score, tmp_path):
    out = tmp_path / "x.wav"
    summary = render_score(score, out, RenderSettings(bits=32, stems=True, lufs=-20.0))
    total = sum(sf.read(p, always_2d=True)[0] for p in (tmp_path / "x.stems").iterdir())
    premaster = Conductor(score).render(master=False).T
    gain = 10 ** (summary.gain_db / 20)
    np.testing.assert_allclose(total, premaster * gain, atol=1e-4)


class Boom(Exception):
    pass


def failing_conductor(after_blocks: int, exc: BaseException):
    class Failing(Conductor):
        def blocks(self, *args, **kwargs):
            for i, block in enumerate(super().blocks(*args, **kwargs)):
                if i == after_blocks:
                    raise exc
                yield block
    return Failing


@pytest.mark.parametrize("exc", [Boom("disk on fire"), KeyboardInterrupt()])
@pytest.mark.parametrize("lufs", [None, -16.0])
def test_failed_render_keeps_the_previous_file(score, tmp_path, exc, lufs):
    out = tmp_path / "x.wav"
    out.write_bytes(b"previous render")
    (tmp_path / "x.stems").mkdir()
    (tmp_path / "x.stems" / "old.wav").write_bytes(b"old stem")
    with pytest.raises(type(exc)):
        render_score(score, out, RenderSettings(stems=True, lufs=lufs),
                     conductor_factory=failing_conductor(3, exc))
    assert out.read_bytes() == b"previous render"
    assert [p.name for p in (tmp_path / "x.stems").iterdir()] == ["old.wav"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.stems", "x.wav"]


def test_unwritable_folder_is_a_render_error(score, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RenderError, match="cannot write"):
        render_score(score, blocker / "x.wav", RenderSettings())


def test_output_names_are_sanitized(tmp_path):
    assert output_path("scores/01-masters.toml", tmp_path).name == "01-masters.wav"
    assert output_path("../../etc/pa ss*wd.toml", tmp_path).parent == tmp_path
    assert output_path("../../etc/pa ss*wd.toml", tmp_path).name == "pa-ss-wd.wav"


def test_memory_meter_is_streaming():
    # the meter keeps one value per 100 ms hop, not the audio
    meter = LoudnessMeter(48000, channels=2)
    rng = np.random.default_rng(1)
    for _ in range(20):
        meter.process(rng.standard_normal((2, 48000)) * 0.1)
    assert len(meter.momentary_lufs()) <= 200
