"""The Python API: symphony.load_score / render / Audio / Conductor, lazily imported."""

from __future__ import annotations

import base64
import io
import pickle
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import symphony
from symphony.conductor import Conductor
from symphony.dsp.loudness import integrated_loudness
from symphony.errors import ParameterError, ScoreError
from symphony.render import RenderSettings, render_score
from tests.conftest import write_score
from tests.manifest.tiny import TINY_SCORE

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def score_path(tmp_path_factory):
    return write_score(tmp_path_factory.mktemp("api"), TINY_SCORE, "09-tiny.toml")


@pytest.fixture(scope="module")
def score(score_path):
    return symphony.load_score(score_path)


def test_import_is_lazy_and_fast():
    code = ("import sys, time; t = time.process_time(); import symphony; t = time.process_time() - t; "
            "heavy = [m for m in ('numpy', 'scipy', 'numba', 'pyo', 'soundfile', 'click') if m in sys.modules]; "
            "print(heavy, t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    heavy, seconds = out.stdout.rsplit(" ", 1)
    assert heavy == "[]", out.stdout
    assert float(seconds) < 0.05  # measured ~0.3 ms of CPU; numpy alone costs ~50 ms


def test_public_names():
    assert symphony.Conductor is Conductor
    assert symphony.RenderSettings is RenderSettings
    assert set(symphony.__all__) <= set(dir(symphony))
    from symphony import render  # the module symphony.render is the callable
    assert callable(render) and render.render_score is render_score
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        symphony.nope


@pytest.mark.parametrize("how", ["score", "path", "str path", "text"])
def test_load_score_takes_a_path_or_the_text(score_path, how):
    source = {"score": None, "path": score_path, "str path": str(score_path),
              "text": score_path.read_text()}[how]
    loaded = symphony.load_score(source) if source is not None else symphony.load_score(score_path)
    assert loaded.title == "Tiny" and loaded.n_bars == 2 and len(loaded.notes) == 6
    assert loaded.path == ("<string>" if how == "text" else str(score_path))


def test_load_score_errors_name_the_text_and_line():
    with pytest.raises(ScoreError, match=r"^<string>:18:\d+: error: unknown instrument 'poly_leed'"):
        symphony.load_score(TINY_SCORE.replace('"poly_lead"', '"poly_leed"'))
    with pytest.raises(ScoreError, match="score file not found"):
        symphony.load_score("no/such/score.toml")
    with pytest.raises(ParameterError, match="file path or TOML text, got int"):
        symphony.load_score(3)


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
def test_render_is_the_conductors_mastered_performance(score, sample_rate):
    audio = symphony.render(score, sample_rate=sample_rate)
    expected = Conductor(score, sample_rate=sample_rate).render()
    assert isinstance(audio, symphony.Audio) and audio.sample_rate == sample_rate
    assert audio.dtype == np.float64 and audio.shape == expected.shape == (2, round(4.5 * sample_rate))
    np.testing.assert_array_equal(np.asarray(audio), expected)


def test_default_rate_is_48000_and_none_is_the_scores(score):
    assert symphony.render(score, end_bar=1).sample_rate == 48000
    assert symphony.render(score, sample_rate=None, end_bar=1).sample_rate == 22050


def test_render_with_lufs_is_the_file_render(score, tmp_path):
    audio = symphony.render(score, sample_rate=22050, lufs=-16.0)
    assert integrated_loudness(audio, 22050) == pytest.approx(-16.0, abs=0.02)
    out = tmp_path / "x.wav"
    render_score(score, out, RenderSettings(bits=32, lufs=-16.0, manifest=False))
    written, _ = sf.read(out, always_2d=True)
    np.testing.assert_allclose(np.asarray(audio), written.T, atol=2e-7)  # float32 file


def test_seed_and_bars(score):
    c = Conductor(score, sample_rate=22050, seed=3)
    start, end = c.frame_of_bar(2), c.frame_of_bar(3)
    part = symphony.render(score, sample_rate=22050, seed=3, start_bar=2, end_bar=2)
    assert part.shape == (2, end - start) == (2, 44100)
    np.testing.assert_array_equal(np.asarray(part), c.render(start_frame=start, end_frame=end))
    pre = symphony.render(score, sample_rate=22050, master=False)
    np.testing.assert_array_equal(np.asarray(pre), Conductor(score, sample_rate=22050).render(master=False))


@pytest.mark.parametrize("kwargs,message", [
    ({"sample_rate": 12345}, "sample_rate must be one of .* got 12345"),
    ({"start_bar": 0}, r"start_bar must be in \[1, 2\] \(the score has 2 bars\), got 0"),
    ({"start_bar": 2, "end_bar": 1}, r"end_bar must be in \[2, 2\], got 1"),
    ({"end_bar": 3}, r"end_bar must be in \[1, 2\], got 3"),
    ({"lufs": -50}, r"lufs target must be in \[-40, -5\] LUFS, got -50"),
    ({"block_size": 0}, r"block_size must be in \[1, 65536\] frames, got 0"),
])
def test_bad_render_arguments(score, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        symphony.render(score, **kwargs)


def test_audio_works_where_ipython_takes_an_array():
    """IPython.display.Audio does ``np.array(data, dtype=float)`` and reads 2-D as (channels, n)."""
    a = symphony.Audio(np.vstack([np.full(100, 0.5), np.full(100, -0.25)]), 22050)
    plain = np.array(a, dtype=float)
    assert type(plain) is np.ndarray and plain.shape == (2, 100)
    assert plain.T.ravel()[:4].tolist() == [0.5, -0.25, 0.5, -0.25]  # IPython's interleaving: L R L R


def test_ipython_display_audio_plays_both_channels():
    """IPython (a test extra) turns the result into a stereo WAV holding our samples."""
    display = pytest.importorskip("IPython.display")
    t = np.arange(2205) / 22050
    a = symphony.Audio(np.vstack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)]), 22050)
    for player in (display.Audio(a, rate=a.sample_rate), a.to_ipython()):
        with wave.open(io.BytesIO(player.data)) as w:
            assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 22050, 2205)
            pcm = np.frombuffer(w.readframes(2205), dtype="<i2").reshape(2205, 2).T / 32767
        # IPython normalizes to the peak unless told not to; the channel ratio survives either way
        scale = np.max(np.abs(pcm)) / 0.5
        np.testing.assert_allclose(pcm, np.asarray(a) * scale, atol=2 / 32767)


def test_repr_html_embeds_a_wav_that_holds_the_samples():
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.9, 0.9, (2, 1000))
    html = symphony.Audio(x, 44100)._repr_html_()
    match = re.search(r'<audio controls [^>]*src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"', html)
    assert match
    with wave.open(io.BytesIO(base64.b64decode(match.group(1)))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, 44100, 1000)
        pcm = np.frombuffer(w.readframes(1000), dtype="<i2").reshape(1000, 2).T
    np.testing.assert_array_equal(pcm, np.round(x * 32767))  # interleaved frames, no normalization


def test_wav_clips_instead_of_wrapping():
    data = symphony.Audio(np.array([[2.0, -2.0, np.nan]]), 8000).to_wav_bytes()
    with wave.open(io.BytesIO(data)) as w:
        assert np.frombuffer(w.readframes(3), dtype="<i2").tolist() == [32767, -32767, 0]


def test_audio_is_an_ndarray_that_keeps_its_rate():
    a = symphony.Audio(np.ones((2, 10)), 48000)
    assert (a * 0.5).sample_rate == 48000 and a[:, 2:5].sample_rate == 48000
    assert repr(a[:, :5]) == "Audio(2 channels x 5 frames at 48000 Hz, 0.000 s)"
    assert type(a.max()) is np.float64 and type(a.sum(axis=1)) is np.ndarray
    b = pickle.loads(pickle.dumps(a))
    assert b.sample_rate == 48000 and np.array_equal(a, b)
    with pytest.raises(ParameterError, match="sample_rate must be > 0 Hz, got 0"):
        symphony.Audio(np.zeros(3), 0)


def test_render_file_writes_the_default_name(score_path, tmp_path):
    summary = symphony.render_file(str(score_path), out_dir=tmp_path)
    assert Path(summary.path) == tmp_path / "09-tiny.wav"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["09-tiny.manifest.json", "09-tiny.wav"]
