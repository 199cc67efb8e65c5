"""Key paths -> line:column, and errors that point at the exact token."""

from __future__ import annotations

import pytest

from symphony.errors import ScoreError
from symphony.score import load_score
from symphony.score.positions import PositionMap

DOC = '''# a comment
[chapter]
title = "x"   # trailing comment
"quoted key" = 1

[[passage]]
name = "a"
players = [
  { section = "strings" },
  { section = "brass", transpose = -12 },
]
notes = """
d4:8 f a d5 |
  c5:1 |
"""
[passage.generate]
kind = "walk"

[[passage]]
name = 'b'
x.y.z = 3
inline = { a = 1, b = { c = 2 } }
esc = "\\u00e9 h4"
'''


@pytest.mark.parametrize("path, expected", [
    (("chapter",), (2, 1)),
    (("chapter", "title"), (3, 1)),
    (("chapter", "quoted key"), (4, 1)),
    (("passage",), (6, 1)),
    (("passage", 0), (6, 1)),
    (("passage", 0, "name"), (7, 1)),
    (("passage", 0, "players", 0, "section"), (9, 5)),
    (("passage", 0, "players", 1), (10, 3)),
    (("passage", 0, "players", 1, "transpose"), (10, 24)),
    (("passage", 0, "generate"), (16, 1)),
    (("passage", 0, "generate", "kind"), (17, 1)),
    (("passage", 1), (19, 1)),
    (("passage", 1, "x", "y", "z"), (21, 5)),
    (("passage", 1, "inline", "b", "c"), (22, 25)),
    (("passage", 1, "nope"), (19, 1)),            # falls back to the enclosing table
    (("passage", 0, "generate", "nope"), (16, 1)),
    (("nothing",), (0, 0)),
])
def test_find(path, expected) -> None:
    assert PositionMap(DOC).find(path) == expected


def test_chars_in_strings() -> None:
    m = PositionMap(DOC)
    assert m.char(("passage", 0, "notes"), 0) == (13, 1)       # first char after the opening newline
    assert m.char(("passage", 0, "notes"), 16) == (14, 3)      # 'c5' on the second line
    assert m.char(("chapter", "title"), 0) == (3, 10)
    assert m.char(("passage", 1, "esc"), 2) == (23, 15)        # after a 6-char escape = 1 decoded char
    assert m.value(("passage", 1, "x", "y", "z")) == (21, 9)


def test_line_col() -> None:
    m = PositionMap("a = 1\nbb = 2\n")
    assert m.line_col(0) == (1, 1) and m.line_col(6) == (2, 1) and m.line_col(8) == (2, 3)


HEAD = '''[chapter]
title = "P"
[section.strings]
instrument = "string_ensemble"
[[passage]]
name = "theme"
bar = 1
sections = ["strings"]
'''


@pytest.mark.parametrize("notes, line, column, fragment", [
    ('notes = "c4 d e h4"', 9, 17, "bad note name 'h4'"),
    ('notes = "c4:1 | d4:2 e:4 |"', 9, 26, "bar check failed at bar 2 of passage 'theme'"),
    ('notes = """\nc4:2 d:2 |\n  e4:2~ f4:2 |\n"""', 11, 9, "tie to a different pitch"),
    ("notes = '''c4 d4 e4:7'''", 9, 20, "bad duration ':7'"),
    ('notes = "c4 d e f"\ndynamics = "1:p 1:<"', 10, 17, "has no target mark"),
])
def test_error_points_at_token(notes, line, column, fragment, catalog) -> None:
    with pytest.raises(ScoreError) as info:
        load_score("p.toml", catalog, text=HEAD + notes + "\n")
    problem = next(p for p in info.value.problems if fragment in p.message)
    assert (problem.line, problem.column) == (line, column)
    assert f"p.toml:{line}:{column}: error:" in info.value.format()


def test_note_positions_in_model(catalog) -> None:
    s = load_score("p.toml", catalog, text=HEAD + 'notes = "c4 d  e"\n')
    assert [(n.position.line, n.position.column) for n in s.notes] == [(9, 10), (9, 13), (9, 16)]
    assert (s.passages[0].position.line, s.sections[0].position.line) == (5, 3)


def test_syntax_error_position(catalog) -> None:
    with pytest.raises(ScoreError) as info:
        load_score("p.toml", catalog, text='[chapter]\ntitle = "x"\nbpm = = 3\n')
    assert (info.value.line, info.value.column) == (3, 7)
    assert "TOML syntax error" in info.value.message and "(at line" not in info.value.message
