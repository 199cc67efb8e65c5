"""``symphony fingerprint`` and ``symphony compare``: files, exit codes 0/1/2, reports, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from symphony.cli import main
from tests.conftest import SMALL_SCORE, write_score
from tests.fingerprint.test_compare import SR, music


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    d = tmp_path_factory.mktemp("wavs")
    x = music()
    sf.write(d / "a.wav", x.T, SR, subtype="FLOAT")
    sf.write(d / "a16.wav", x.T, SR, subtype="PCM_16")
    y = x.copy()
    y[:, int(3.0 * SR):int(3.5 * SR)] *= 2.0
    sf.write(d / "b.wav", y.T, SR, subtype="FLOAT")
    for name, sig in (("a", x), ("b", y)):
        stems = d / f"{name}.stems"
        stems.mkdir()
        sf.write(stems / "tones.wav", sig.T, SR, subtype="FLOAT")
        sf.write(stems / "quiet.wav", (0.5 * x).T, SR, subtype="FLOAT")
    return d


def test_fingerprint_writes_a_file_and_compare_says_same(wavs, tmp_path):
    out = tmp_path / "a.fp"
    result = run("fingerprint", wavs / "a.wav", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.read_bytes().startswith(b"SYMPHONY-FINGERPRINT 2 ")
    result = run("compare", wavs / "a16.wav", out)  # 16-bit copy vs float fingerprint
    assert result.exit_code == 0, result.output
    assert result.output.startswith("same:")


def test_compare_differs_exits_1_with_where(wavs):
    result = run("compare", wavs / "b.wav", wavs / "a.wav")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("differs:")
    # the doubled span 3.0-3.5 s is found there (a frame's window reaches 372 ms around its
    # centre, reported spans are frame centres +- half a hop: 186 ms)
    spectrum = [line for line in result.output.splitlines() if " spectrum " in line]
    assert spectrum
    start, end = (format_seconds(t) for t in spectrum[0].split()[0].split("-"))
    assert 3.0 - 0.4 <= start <= 3.0 and 3.5 <= end <= 3.5 + 0.4, spectrum[0]
    # +6 dB over 0.5 s, seen through 743 ms windows: a few dB on average
    average = float(spectrum[0].split(" dB on average")[0].split()[-1])
    assert 3.0 <= average <= 6.0, spectrum[0]


def format_seconds(label: str) -> float:
    """``m:ss.s`` -> seconds."""
    minutes, seconds = label.split(":")
    return 60 * int(minutes) + float(seconds)


def test_compare_json(wavs):
    result = run("compare", "--json", wavs / "b.wav", wavs / "a.wav")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["same"] is False and 0.0 < doc["similarity"] < 1.0
    kinds = {f["kind"] for f in doc["findings"]}
    assert "spectrum" in kinds or "level" in kinds
    assert all({"start_s", "end_s", "low_hz", "high_hz", "where", "detail"} <= f.keys() for f in doc["findings"])


def test_compare_stems_names_the_section(wavs):
    result = run("compare", "--stems", wavs / "b.stems", wavs / "a.stems")
    assert result.exit_code == 1, result.output
    assert "section stem 'tones'" in result.output
    assert "quiet: same" in result.output
    result = run("fingerprint", wavs / "a.stems")  # folder -> .fp next to each stem
    assert result.exit_code == 0, result.output
    assert (wavs / "a.stems" / "tones.fp").is_file()
    assert run("compare", "--stems", wavs / "a.stems", wavs / "a.stems").exit_code == 0


@pytest.mark.parametrize("args,message", [
    (("compare", "nope.wav", "nope.fp"), "no such"),
    (("compare", "x.txt", "x.txt"), "expected a .fp fingerprint"),
    (("fingerprint",), "give an audio file"),
])
def test_bad_input_exits_2_without_traceback(tmp_path, monkeypatch, args, message):
    (tmp_path / "x.txt").write_text("hello")
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_stems_flag_needs_folders(wavs):
    result = run("compare", "--stems", wavs / "a.wav", wavs / "a.wav")
    assert result.exit_code == 2 and "folders" in result.output


def test_score_is_rendered_and_labelled_with_bars(tmp_path):
    score = write_score(tmp_path, SMALL_SCORE, "07-test.toml")
    out = tmp_path / "x.fp"
    result = run("fingerprint", score, "-o", out, "--stems")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.stems" / "drums.fp").is_file()
    louder = tmp_path / "louder.toml"
    louder.write_text(score.read_text().replace("[master]\n", "[master]\ngain_db = 1.0\n"))
    result = run("compare", louder, out)
    assert result.exit_code == 1, result.output
    assert "bar 1 beat 1.0" in result.output and "overall level +1.0" in result.output
    assert np.isfinite(json.loads(run("compare", "--json", out, out).output)["similarity"])


def test_update_golden_writes_mix_and_stems_that_then_match(tmp_path, monkeypatch):
    from symphony.fingerprint.golden import check_golden

    monkeypatch.chdir(tmp_path)
    score = write_score(tmp_path, SMALL_SCORE, "07-test.toml")
    result = run("fingerprint", "--update-golden", "07-test.toml", "--golden-dir", "golden")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "golden" / "07-test.fp").is_file()
    assert sorted(p.stem for p in (tmp_path / "golden" / "07-test.stems").glob("*.fp")) == \
        ["bass", "bus-echo", "bus-hall", "drums", "lead", "strings"]
    check = check_golden(score.name, "golden")
    assert check.same, check.format()
    assert check.mix.audio_sha256_equal is True
