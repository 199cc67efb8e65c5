"""File format round trip and refusals; comparison rules find and locate synthetic changes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from symphony.errors import ParameterError
from symphony.fingerprint import TimeGrid, compare, fingerprint_audio, read_fingerprint, write_fingerprint
from symphony.fingerprint import features as F
from symphony.fingerprint.fileformat import from_bytes, header_of, to_bytes
from symphony.fingerprint.timegrid import format_time

SR = F.ANALYSIS_RATE


def music(seconds: float = 6.0, *, seed: int = 5, late_hat: tuple[int, float] = (-1, 0.0)) -> np.ndarray:
    """A small synthetic 'piece': a decaying tone every 0.5 s and a noise hat between them.

    ``late_hat = (k, seconds)`` plays the k-th hat that much later.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = np.zeros((2, n))
    t = np.arange(int(0.45 * SR)) / SR
    for k, start in enumerate(np.arange(0.0, seconds - 0.5, 0.5)):
        i = int(start * SR)
        f = 220.0 * 2 ** (((k * 5) % 12) / 12)
        note = sum(0.1 / h * np.sin(2 * np.pi * f * h * t) for h in range(1, 6)) * np.exp(-t / 0.2)
        x[0, i:i + t.size] += note
        x[1, i:i + t.size] += 0.8 * note
        hat = 0.05 * rng.standard_normal(int(0.03 * SR)) * np.exp(-np.arange(int(0.03 * SR)) / (0.005 * SR))
        j = i + int((0.25 + (late_hat[1] if k == late_hat[0] else 0.0)) * SR)
        x[:, j:j + hat.size] += hat
    return x


@pytest.fixture(scope="module")
def base():
    x = music()
    return x, fingerprint_audio(x, SR)


def test_file_round_trip_is_exact(base, tmp_path):
    _, fp = base
    path = write_fingerprint(fp, tmp_path / "x.fp")
    back = read_fingerprint(path)
    for name in ("bands", "chroma", "balance", "timing", "pitch"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fp, name))
    np.testing.assert_allclose(back.onsets.times_s, fp.onsets.times_s, atol=1e-12)
    np.testing.assert_array_equal(back.onsets.groups, fp.onsets.groups)
    assert compare(back, fp).same
    assert header_of(path)["source"]["audio_sha256"] == fp.source["audio_sha256"]
    # small: 6 s of a note every 0.5 s and a hat between them take under 800 bytes of
    # features (a dense chapter mix takes about 4.2 KB per minute: docs/fingerprints.md)
    payload = int(path.read_bytes().split(b"\n", 1)[0].split()[3])
    assert payload < 800


@pytest.mark.parametrize("encoding", ["values", "time-differences", "median-prediction"])
def test_grid_encodings_round_trip(encoding):
    from symphony.fingerprint.fileformat import _decode, _encode, _pack, _unpack

    rng = np.random.default_rng(11)
    for shape in [(0, 20), (1, 20), (37, 20), (5, 1)]:
        units = rng.integers(-300, 300, size=shape) * (rng.random(shape) < 0.7)
        stored = _encode(units, encoding)
        dtype, raw = _pack(stored)
        np.testing.assert_array_equal(_decode(_unpack(raw, dtype, list(stored.shape)), encoding), units)


def _other_settings(data: bytes) -> bytes:
    """The same file claiming other analysis settings (same length, so only that is wrong)."""
    key = b'"settings_sha256": "'
    i = data.index(key) + len(key)
    return data[:i] + (b"0" if data[i:i + 1] != b"0" else b"1") + data[i + 1:]


@pytest.mark.parametrize("mangle,message", [
    (lambda b: b"RIFF" + b[4:], "not a symphony fingerprint"),
    (lambda b: b.replace(b"FINGERPRINT 2 ", b"FINGERPRINT 1 ", 1), "format version 1 .an older symphony"),
    (lambda b: b.replace(b"FINGERPRINT 2 ", b"FINGERPRINT 3 ", 1), "format version 3 .a newer symphony"),
    (lambda b: b[:-10], "truncated"),
    (lambda b: _other_settings(b), "other analysis settings"),
])
def test_bad_files_are_refused_with_a_reason(base, mangle, message):
    _, fp = base
    with pytest.raises(ParameterError, match=message):
        from_bytes(mangle(to_bytes(fp)), "x.fp")


def test_missing_file_is_bad_input(tmp_path):
    with pytest.raises(ParameterError, match="no such fingerprint"):
        read_fingerprint(tmp_path / "nope.fp")


@pytest.mark.parametrize("noise_dbfs", [-100.0, -110.0])
def test_tiny_noise_is_the_same_music(base, noise_dbfs):
    x, fp = base
    y = x + 10 ** (noise_dbfs / 20) * np.random.default_rng(1).standard_normal(x.shape)
    c = compare(fingerprint_audio(y, SR), fp)
    assert c.same, [f.detail for f in c.findings]
    assert c.similarity > 0.98
    assert c.audio_sha256_equal is False


def test_gain_of_half_a_db_is_a_level_finding(base):
    x, fp = base
    c = compare(fingerprint_audio(x * 10 ** (0.5 / 20), SR), fp)
    assert not c.same
    level = [f for f in c.findings if f.kind == "level"]
    assert len(level) == 1 and level[0].value == pytest.approx(0.5, abs=0.1)


def test_a_local_change_is_located_in_time_and_frequency(base):
    """A 2 kHz tone from 3.0 to 3.6 s: findings cover that span and that band, nothing else."""
    x, fp = base
    y = x.copy()
    i0, i1 = int(3.0 * SR), int(3.6 * SR)
    y[:, i0:i1] += 0.02 * np.sin(2 * np.pi * 2000.0 * np.arange(i1 - i0) / SR)
    c = compare(fingerprint_audio(y, SR), fp)
    assert not c.same
    spectral = [f for f in c.findings if f.kind in ("spectrum", "timing", "tuning")]
    assert spectral
    for f in spectral:
        # a frame's window reaches 186 ms either side of its centre
        assert 3.0 - 0.4 <= f.start_s <= 3.0 and 3.6 <= f.end_s <= 3.6 + 0.4, (f.kind, f.start_s, f.end_s)
        assert f.low_hz <= 2000.0 <= f.high_hz
    assert all(f.kind != "level" for f in c.findings)


def test_a_moved_onset_is_reported_with_its_shift(base):
    _, fp = base
    y = music(late_hat=(4, 0.015))  # the hat at 2.25 s, 15 ms late
    c = compare(fingerprint_audio(y, SR), fp)
    moved = [f for f in c.findings if f.kind == "onset-moved"]
    assert moved and moved[0].value == pytest.approx(15.0, abs=2.0)
    assert moved[0].start_s == pytest.approx(2.25, abs=0.01)


def test_length_difference_is_reported(base):
    x, fp = base
    c = compare(fingerprint_audio(x[:, : int(5.0 * SR)], SR), fp)
    assert any(f.kind == "length" for f in c.findings)


def test_findings_are_labelled_with_bars_when_the_score_is_known(base):
    x, _ = base
    timing = {"tempos": [{"start_beat": "0", "bpm": 120.0, "ramp_beats": "0"}],
              "meters": [{"bar": 1, "numerator": 4, "denominator": 4, "start_beat": "0"}]}
    grid = TimeGrid(timing)
    assert grid.label(2.0) == "0:02.0 (bar 2 beat 1.0)"
    assert grid.bar_beat(2.75) == (2, 2.5)
    assert TimeGrid(timing, start_seconds=2.0).bar_beat(0.0) == (2, 1.0)
    a = fingerprint_audio(x, SR, score=timing)
    c = compare(fingerprint_audio(x * 1.2, SR), a)
    assert "bar 1 beat 1.0" in c.findings[0].where


def test_time_labels():
    assert format_time(0.0) == "0:00.0"
    assert format_time(61.25) == "1:01.2"
    assert format_time(600.0) == "10:00.0"
    assert Fraction(1) == 1


@pytest.mark.parametrize("gain_db", [-4.97, 3.3])
def test_ignore_level_forgives_one_gain_but_not_a_local_change(base, gain_db):
    """A render normalized to a loudness target against un-normalized goldens."""
    from symphony.fingerprint import Tolerances

    x, fp = base
    tol = Tolerances(ignore_level=True)
    scaled = x * 10 ** (gain_db / 20)
    c = compare(fingerprint_audio(scaled, SR), fp, tolerances=tol)
    assert c.same, [f.detail for f in c.findings]
    # the gain is estimated to a tenth of a dB (median over frames of 1 dB-rounded differences)
    estimated = float(c.notes[0].split("difference of ")[1].split(" dB")[0])
    assert estimated == pytest.approx(gain_db, abs=0.1), c.notes[0]
    y = scaled.copy()
    y[:, int(3.0 * SR):int(3.6 * SR)] *= 2.0
    c = compare(fingerprint_audio(y, SR), fp, tolerances=tol)
    assert not c.same and all(f.kind != "level" for f in c.findings)


def test_windowed_fingerprints_label_score_time():
    """Goldens of long scores join windows; labels map file time back to the score."""
    timing = {"tempos": [{"start_beat": "0", "bpm": 120.0, "ramp_beats": "0"}],
              "meters": [{"bar": 1, "numerator": 4, "denominator": 4, "start_beat": "0"}]}
    grid = TimeGrid(timing, segments=[[0.0, 0.0, 15.0], [16.0, 120.0, 15.0]])
    assert grid.label(2.0) == "0:02.0 (bar 2 beat 1.0)"
    assert grid.label(17.0) == "2:01.0 (bar 61 beat 3.0)"
    assert grid.score_seconds(15.5) == 15.0  # in the gap: the end of the first window
