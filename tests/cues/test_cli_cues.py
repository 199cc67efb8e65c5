"""``symphony cues``: the cue sheet as text and JSON; bad scores exit 2 with one clear message."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from symphony.catalog import load
from symphony.cli import main
from symphony.cues import cue_sheet
from symphony.tempo import TempoMap

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "scores" / "example-03-picture.toml"


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_cue_sheet_lists_cues_and_tempo_changes():
    result = _run("cues", EXAMPLE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "03  The Cut"
    assert lines[1] == "24 fps, bar 1 at 01:00:00:00, 2 cues, checked at 48000 Hz"
    cue_lines = [line for line in lines if line.startswith("cue")]
    assert re.match(r"cue +5 +1 +01:00:09:12 +9\.500 +\d+\.\d\d +'the cut': bars 1-4 x1\.0105 \(\+1\.05%\), "
                    r"error 0 samples$", cue_lines[0]), cue_lines[0]
    assert re.match(r"cue +11 +3 +01:00:23:00 +23\.000 +120\.00 +'the siren': bars 5-11 .* error 0 samples$",
                    cue_lines[1]), cue_lines[1]
    tempo_lines = [line for line in lines if line.startswith("tempo")]
    assert len(tempo_lines) == 4  # bar 1, the cut, the ramp, the written tempo back after the siren
    assert "tempo (written 100.00)" in tempo_lines[0]
    assert re.search(r"ramp over 8 beats to \d+\.\d\d bpm \(written 120\.00\)", tempo_lines[2])


@pytest.mark.parametrize("rate", ["44100", "48000", "22050"])
def test_json_at_a_sample_rate(rate):
    result = _run("cues", EXAMPLE, "--json", "--sr", rate)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["fps"], data["offset"], data["offset_seconds"], data["sample_rate"]) == (24, "01:00:00:00",
                                                                                         3600.0, int(rate))
    cues = [r for r in data["rows"] if r["kind"] == "cue"]
    assert [(c["name"], c["bar"], c["beat"], c["timecode"], c["error_samples"]) for c in cues] == [
        ("the cut", 5, 1.0, "01:00:09:12", 0), ("the siren", 11, 3.0, "01:00:23:00", 0)]
    assert all(abs(c["drift_samples"]) < 1e-6 for c in cues)
    beats = [Fraction(r["start_beat"]) for r in data["rows"]]
    assert beats == sorted(beats)


def test_the_sheet_agrees_with_the_tempo_map():
    score = load(EXAMPLE)
    tm = TempoMap(score.tempos, 48000)
    for row in cue_sheet(score):
        assert row.seconds == pytest.approx(float(tm.seconds_at(row.start_beat)), abs=1e-12)
        assert (row.bar, row.beat) == score.beat_to_bar(row.start_beat)


def test_a_score_without_cues_still_has_a_sheet():
    result = _run("cues", REPO / "scores" / "example-01-foundry.toml")
    assert result.exit_code == 0, result.output
    assert "0 cues" in result.output and "cue " not in result.output.split("\n", 3)[3]


def test_an_impossible_cue_exits_2():
    path = REPO / "tests" / "bad_scores" / "cue-impossible-tempo.toml"
    result = _run("cues", path)
    assert result.exit_code == 2
    assert result.output.startswith(f"{path}:18:1: error: cue 'the cut' cannot land bar 5")
    assert "Traceback" not in result.output


def test_the_documented_cue_sheet_is_what_the_command_prints(monkeypatch):
    monkeypatch.chdir(REPO)
    doc = (REPO / "docs" / "score-format.md").read_text(encoding="utf-8")
    block = doc[doc.index("```\n03  The Cut") + 4:]
    block = block[:block.index("```")].rstrip("\n")
    result = _run("cues", "scores/example-03-picture.toml")
    assert result.output.rstrip("\n") == block


@pytest.mark.parametrize("module", ["symphony.score.cues", "symphony.cues", "symphony.clicktrack"])
def test_docstring_examples_run(module, monkeypatch):
    import doctest
    import importlib

    monkeypatch.chdir(REPO)  # the examples load scores/example-03-picture.toml
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
