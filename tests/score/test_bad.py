"""The bad-score corpus: one defect per file, first line ``# error: <fragment>``."""

from __future__ import annotations

import re

import pytest

from symphony.errors import ScoreError
from symphony.score import load_score

from pathlib import Path

HERE = Path(__file__).parent

BAD = sorted((HERE / "bad").glob("*.toml"))
NO_LINE = {"empty.toml"}


def test_corpus_is_large_enough() -> None:
    assert len(BAD) >= 25


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_score(path, catalog) -> None:
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    expected = re.fullmatch(r"# error: (.+)", first).group(1)
    with pytest.raises(ScoreError) as info:
        load_score(path, catalog)
    text = info.value.format()
    assert expected in text
    matching = [p for p in info.value.problems if expected in p.format()]
    assert matching, text
    if path.name not in NO_LINE:
        assert matching[0].line > 1, text  # line 1 is the '# error' comment
    assert str(path) in text
