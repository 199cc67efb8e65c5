"""The command line: exit codes, one clear message per defect, no traceback, no output file."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from symphony.cli import main
from tests.conftest import SMALL_SCORE, write_score


def run(*args):
    result = CliRunner().invoke(main, list(map(str, args)))
    return result


def test_check_prints_a_summary(tmp_path):
    path = write_score(tmp_path, SMALL_SCORE)
    result = run("check", path)
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and "4 bars" in result.output and "4 sections" in result.output


def test_info_shows_tempo_map_and_sections(tmp_path):
    result = run("info", write_score(tmp_path, SMALL_SCORE))
    assert result.exit_code == 0, result.output
    for text in ["tempo map", "-> 140 bpm ramp over 4 beats", "7/8", "string_ensemble", "factory_hall",
                 "chance bass"]:
        assert text in result.output


def test_instruments_lists_parameters():
    result = run("instruments")
    assert result.exit_code == 0
    for text in ["drum_machine", "acid_bass", "string_ensemble", "poly_lead", "cutoff_hz", "kick"]:
        assert text in result.output


def test_render_writes_the_file_and_a_summary(tmp_path):
    score = write_score(tmp_path, SMALL_SCORE, "07-test.toml")
    out = tmp_path / "renders"
    result = run("render", score, "--out-dir", out, "--bits", "16")
    assert result.exit_code == 0, result.output
    assert (out / "07-test.wav").is_file()
    for text in ["duration", "true peak", "LUFS", "real time"]:
        assert text in result.output


ERROR_CASES = [
    ("unknown instrument", ('instrument = "string_ensemble"', 'instrument = "string_ensembel"'),
     r"unknown instrument 'string_ensembel'", "did you mean 'string_ensemble'"),
    ("bad note name", ("d4:4 f4 a4 d5 |", "d4:4 h4 a4 d5 |"), r"h4", "note"),
    ("bar check", ("c5:4. bb4:8 a4:2 |", "c5:4. bb4:8 a4:4 |"), r"bar check", ""),
    ("toml syntax", ('title = "Test Machine"', 'title = "Test Machine'), r"", ""),
    ("out of range", ("cutoff_hz = 500,", "cutoff_hz = 50000,"), r"cutoff_hz", "20"),
]


@pytest.mark.parametrize("name,edit,message,hint", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_bad_scores_exit_2_with_file_and_line(tmp_path, name, edit, message, hint):
    assert edit[0] in SMALL_SCORE
    path = write_score(tmp_path, SMALL_SCORE.replace(edit[0], edit[1]), "bad.toml")
    out = tmp_path / "renders"
    for command in (["check", path], ["render", path, "--out-dir", out]):
        result = run(*command)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        first = result.output.strip().splitlines()[0]
        assert re.match(rf"{re.escape(str(path))}:\d+(:\d+)?: error: ", first), first
        assert re.search(message, result.output)
        assert hint in result.output
    assert not out.exists() or not any(out.iterdir())


def test_missing_file_exits_2(tmp_path):
    result = run("render", tmp_path / "nope.toml", "--out-dir", tmp_path)
    assert result.exit_code == 2
    assert "nope.toml" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.glob("*.wav"))


def test_bad_option_exits_2(tmp_path):
    path = write_score(tmp_path, SMALL_SCORE)
    result = run("render", path, "--format", "flac", "--bits", "32", "--out-dir", tmp_path)
    assert result.exit_code == 2
    assert "FLAC holds 16 or 24-bit" in result.output


def test_measure_reports_loudness_and_clicks(tmp_path):
    path = write_score(tmp_path, SMALL_SCORE, "07-test.toml")
    out = tmp_path / "renders"
    assert run("render", path, "--out-dir", out, "--stems").exit_code == 0
    result = run("measure", out / "07-test.wav", out / "07-test.stems")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 + 6  # the mix and six stems
    assert "LUFS" in lines[0] and "true peak" in lines[0] and "0 clipped" in lines[0]
    assert run("measure", tmp_path / "07-test.toml").exit_code == 2  # not audio


def test_render_album_joins_the_chapters(tmp_path):
    first = write_score(tmp_path, SMALL_SCORE, "01-first.toml")
    second = write_score(tmp_path, SMALL_SCORE.replace("seed = 1927", "seed = 5"), "02-second.toml")
    extra = write_score(tmp_path, SMALL_SCORE, "sketch.toml")  # rendered, not joined
    out = tmp_path / "renders"
    result = run("render", "--album", first, second, extra, "--out-dir", out, "--lufs", "-16")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["01-first.manifest.json", "01-first.wav", "02-second.manifest.json",
                                                     "02-second.wav", "album.manifest.json", "album.wav",
                                                     "sketch.manifest.json", "sketch.wav"]
    assert "2 chapters" in result.output and "loudness spread" in result.output
    import soundfile as sf
    frames = sum(sf.info(out / name).frames for name in ("01-first.wav", "02-second.wav"))
    assert sf.info(out / "album.wav").frames == frames + 3 * 22050  # one 3 s gap


def test_render_without_scores_is_a_usage_error(tmp_path):
    result = run("render", "--out-dir", tmp_path)
    assert result.exit_code == 2 and "--album" in result.output
