"""The CLI on hand-written, wrong and hostile scores: one clear message, exit 2, no file.

Every ``tests/bad_scores/*.toml`` has its row in ``CASES``: the message fragment, a hint
fragment, and whether the message can name a line. ``symphony check`` and ``symphony
render`` must both exit with status 2, print ``file[:line[:col]]: error: ...`` and a
``hint:`` and no traceback, and leave the output folder empty. A few cases also run
through the real console script in a subprocess. Cases too big to commit (a 2 MB string, a
17 MB file) are generated in ``tmp_path``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from symphony.cli import main

HERE = Path(__file__).parent
FILES = sorted(HERE.glob("*.toml"))

#: file stem -> (message fragment, hint fragment, the message names a line)
CASES = {
    # TOML syntax (tomllib's line:column)
    "toml-unclosed-string": ("TOML syntax error: Illegal character '\\n'", "check quotes", True),
    "toml-missing-equals": ("TOML syntax error: Expected '=' after a key", "key = value", True),
    "toml-duplicate-key": ("TOML syntax error: Cannot overwrite a value", "check quotes", True),
    "toml-unclosed-table": ("Expected ']' at the end of a table declaration", "brackets", True),
    "toml-bad-inline-table": ("TOML syntax error: Invalid initial character for a key part", "syntax", True),
    "toml-control-char": ("TOML syntax error: Illegal character '\\x01'", "check quotes", True),
    "toml-duplicate-table": ("Cannot declare ('section', 'lead') twice", "check quotes", True),
    # the file itself
    "empty": ("the score file is empty", "start with [chapter]", False),
    "only-comments": ("empty (only comments or blank lines)", "start with [chapter]", False),
    "non-utf8": ("the file is not valid UTF-8 (byte 0xe9)", "save the score as UTF-8", True),
    "deep-nesting": ("nesting depth exceeds the limit of 32", "flatten", True),
    # wrong types
    "title-type": ("title must be a string, got 1927", 'title = "..."', True),
    "bars-quoted": ("bars must be an integer, got '2'", "numbers are written without quotes", True),
    "voices-float": ("voices must be an integer, got 2.5", "voices = 1", True),
    "notes-array": ("notes must be a string, got ['c4', 'd4']", 'notes = "..."', True),
    "section-not-table": ("section must be a table, got 3", "section = {", True),
    "sends-type": ("sends must be a table, got 0.5", "sends = {", True),
    "tempo-string": ("bpm must be a number, got 'fast'", "without quotes, e.g. bpm = 120", True),
    # unknown keys and names: did you mean
    "unknown-top-key": ("unknown key 'chapters' in the top level", "did you mean 'chapter'?", True),
    "unknown-chapter-key": ("unknown key 'numbr' in [chapter]", "did you mean 'number'?", True),
    "unknown-section-key": ("unknown key 'voises' in [section.lead]", "did you mean 'voices'?", True),
    "unknown-passage-key": ("unknown key 'note' in [[passage]]", "did you mean 'notes'?", True),
    "unknown-instrument": ("unknown instrument 'poly_leed' in section 'lead'", "did you mean 'poly_lead'?", True),
    "unknown-param": ("unknown parameter 'cutof_hz' for instrument 'poly_lead'", "did you mean 'cutoff_hz'?",
                      True),
    "unknown-section-in-passage": ("unknown section 'laed' in passage 'theme'", "did you mean 'lead'?", True),
    "unknown-bus": ("unknown bus 'hal' in sends of section 'lead'", "known: (none)", True),
    "unknown-drum-voice": ("unknown drum voice 'kik'", "did you mean 'kick'?", True),
    # the note language
    "bad-note-name": ("bad note name 'h4' in passage 'theme'", "note names are a-g", True),
    "bad-octave": ("octave 12 out of range in 'd12'", "octaves run from -1 to 9", True),
    "first-note-no-octave": ("note 'c' needs an octave", "write e.g. 'c4'", True),
    "bad-duration": ("bad duration ':3' in passage 'theme'", "use 3:2{ ... } for triplets", True),
    "unclosed-chord": ("unclosed chord '<' in passage 'theme'", "close the chord with '>'", True),
    "tie-mismatch": ("tie to a different pitch: c4 ~ d4", "a tie joins the same pitch", True),
    "tuplet-no-ratio": ("tuplet without a ratio", "3:2{ c5:8 d5 e5 }", True),
    "bar-check-short": ("bar check failed at bar 1 of passage 'theme': bar holds 3/4", "add 1/4", True),
    "bar-check-long": ("bar check failed at bar 2 of passage 'theme': bar holds 6/4", "remove 2/4", True),
    "bad-dynamics": ("bad dynamics mark '1:mff'", "marks ppp pp p mp mf f ff fff", True),
    "bad-velocity": ("velocity 1.5 out of range in passage 'theme'", "0.0..1.0", True),
    # bars: zero, negative, past the end, overlapping
    "bar-zero": ("bar must be in 1..10000, got 0", "between 1 and 10000", True),
    "bar-negative": ("bar must be in 1..10000, got -4", "between 1 and 10000", True),
    "bars-zero": ("bars must be in 1..10000, got 0", "between 1 and 10000", True),
    "passage-past-end": ("passage 'theme' extends past chapter.bars = 1", "raise chapter.bars", True),
    "tempo-not-bar-1": ("the first tempo must be at bar 1 beat 1, got bar 2", "add a [[tempo]] with bar = 1",
                        True),
    "tempo-inside-ramp": ("tempo change at bar 3 starts inside the previous ramp", "shorten ramp_bars", True),
    "meter-duplicate-bar": ("two meters at bar 1", "keep one", True),
    "meter-zero": ("bad meter signature '0/4'", "n in 1..32", True),
    "tail-negative": ("tail_seconds must be in 0..30 s, got -1.0", "between 0 and 30", True),
    # tempo
    "tempo-zero": ("bpm must be > 0, got 0", "20..400 quarter notes per minute", True),
    "tempo-negative": ("bpm must be > 0, got -120", "20..400", True),
    "tempo-nan": ("got nan", "", True),  # "bpm must be in 20..400" now, "a finite number" after the fix
    "tempo-inf": ("got inf", "", True),
    # absurd sizes: the validator's limits, then the render limits (symphony.limits)
    "bars-10-million": ("bars must be in 1..10000, got 10000000", "between 1 and 10000", True),
    "voices-100000": ("voices must be in 1..64, got 100000", "between 1 and 64", True),
    "repeat-million": ("repeat must be in 1..1000, got 1000000", "between 1 and 1000", True),
    "huge-integer": ("seed must be in 0..9.22337e+18, got 99999999999999999999999999999", "between 0", True),
    "duration-limit": ("render refused: the render would last 33:20:00.5", "--max-minutes 2001", False),
    "total-voices-limit": ("render refused: the score asks for 580 voices in 10 sections",
                           "--max-voices 580", False),
    # passages
    "players-and-sections": ("give players or sections, not both", "shorthand", True),
    "no-material": ("passage 'theme' needs exactly one of notes, pattern or generate", "[passage.generate]", True),
    "duplicate-passage": ("duplicate passage name 'theme'", "must be unique", True),
    "missing-title": ("missing required key 'title' in [chapter]", "add title = ...", True),
    "sample-rate": ("sample_rate must be one of 22050, 44100, 48000, 88200, 96000, got 12345", "48000", True),
    "param-range": ("cutoff_hz must be in [20.0, 20000.0], got 99999", "cutoff_hz is in [20, 20000]", True),
    "pattern-not-drums": ("pattern in passage 'beat' needs a section with drum voices", "drum_machine", True),
    # NaN from TOML's `nan` literal: the validator's range checks let it through (NaN compares false)
    "nan-tail": ("tail_seconds must be a finite number, got nan", "tail_seconds =", True),
    "nan-legato": ("legato must be a finite number, got nan", "legato =", True),
    "nan-gain": ("gain_db must be a finite number, got nan", "gain_db =", True),
    # cue points (scoring to picture)
    "cue-impossible-tempo": ("cue 'the cut' cannot land bar 5 on 00:00:06:00: bars 1-4 would need 160.00 bpm",
                             "the limits allow bar 5 between 00:00:06:21 and", True),
    "cue-bad-timecode": ("bad timecode '00:00:08:24': frame 24 does not exist at 24 fps", "hh:mm:ss:ff", True),
    "cue-out-of-order": ("cue 'cut' at bar 5 is at 00:00:08:00, not after cue 'door' at bar 3",
                         "later bars need later film times", True),
}

def _params():
    return [pytest.param(path, id=path.stem) for path in FILES]


def test_every_file_has_a_case_and_every_case_a_file():
    assert len(FILES) >= 40
    assert sorted(p.stem for p in FILES) == sorted(CASES)


def _assert_clear_message(text: str, path: Path, case: str) -> None:
    fragment, hint, has_line = CASES[case]
    assert "Traceback" not in text, text
    first = text.strip().splitlines()[0]
    where = re.escape(str(path))
    assert re.match(rf"{where}(:\d+(:\d+)?)?: error: ", first), first
    if has_line:
        assert re.search(rf"^{where}:\d+(:\d+)?: error: .*{re.escape(fragment)}", text, re.M), text
    else:
        assert fragment in text, text
    assert re.search(rf"^  hint: .*{re.escape(hint)}", text, re.M), text


def _run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("path", _params())
def test_check_exits_2_with_one_clear_message(path):
    result = _run("check", path)
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        result.exception
    _assert_clear_message(result.output, path, path.stem)


@pytest.mark.parametrize("path", _params())
def test_render_exits_2_and_writes_nothing(path, tmp_path):
    out = tmp_path / "renders"
    result = _run("render", path, "--out-dir", out)
    assert result.exit_code == 2, result.output
    _assert_clear_message(result.output, path, path.stem)
    assert not out.exists()  # refused before the folder is even created


# ---------------------------------------------------------------- generated (too big to commit)
BASE = '[chapter]\ntitle = "Big"\nsample_rate = 22050\n'


def _generated(tmp_path: Path, case: str) -> Path:
    path = tmp_path / f"{case}.toml"
    if case == "huge-string":
        path.write_text(BASE + 'description = "' + "la" * 600_000 + '"\n')
    elif case == "huge-file":
        with open(path, "w") as f:
            f.write(BASE)
            line = "# " + "x" * 1000 + "\n"
            for _ in range(17 * 1024):
                f.write(line)
    elif case == "directory":
        path.mkdir()
    elif case == "deep-tables":
        path.write_text(BASE + "[" + ".".join(["a"] * 3000) + "]\nx = 1\n")
    # "missing": not created
    return path


GENERATED = {
    "huge-string": ("string of 1200000 characters exceeds the limit of 1 MB", "split it", True),
    "huge-file": ("the score is larger than 16 MB", "split it into chapters", False),
    "missing": ("score file not found", "check the path", False),
    "deep-tables": ("nesting depth exceeds the limit of 32", "flatten", True),
}


@pytest.mark.parametrize("command", ["check", "render"])
def test_a_directory_is_a_usage_error(tmp_path, command):
    path = _generated(tmp_path, "directory")
    result = _run(command, path)
    assert result.exit_code == 2  # click's own check of the argument, before symphony's
    assert f"'{path}' is a directory" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("case", sorted(GENERATED))
@pytest.mark.parametrize("command", ["check", "render"])
def test_generated_cases(tmp_path, case, command):
    path = _generated(tmp_path, case)
    out = tmp_path / "renders"
    args = [command, path] + (["--out-dir", out] if command == "render" else [])
    result = _run(*args)
    assert result.exit_code == 2, result.output
    fragment, hint, has_line = GENERATED[case]
    assert "Traceback" not in result.output
    assert result.output.startswith(f"{path}"), result.output[:300]
    assert fragment in result.output and "hint: " in result.output and hint in result.output, \
        result.output[:500]
    if has_line:
        assert re.match(rf"{re.escape(str(path))}:\d+", result.output)
    assert not out.exists()


# ---------------------------------------------------------------- the real console script
def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("symphony")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "symphony.cli"]  # pragma: no cover - not installed


SUBPROCESS_CASES = ["toml-unclosed-string", "non-utf8", "unknown-instrument", "duration-limit"]


def test_console_script_exits_2_without_traceback(tmp_path):
    """The real ``symphony`` script (all cases started at once: start-up is the slow part)."""
    env = dict(os.environ, PYTHONWARNINGS="error::DeprecationWarning:symphony")
    runs = {}
    for case in SUBPROCESS_CASES:
        out = tmp_path / case
        runs[case] = (out, subprocess.Popen(_console_script() + ["render", str(HERE / f"{case}.toml"),
                                                                  "--out-dir", str(out)],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    for case, (out, proc) in runs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2, (case, stderr)
        assert "Traceback" not in stderr and "Traceback" not in stdout
        assert stdout == ""  # errors go to stderr only
        _assert_clear_message(stderr, HERE / f"{case}.toml", case)
        assert not out.exists()
