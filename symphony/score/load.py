"""Score file -> validated, immutable :class:`~symphony.score.model.Score`.

``load_score`` reads bytes, decodes UTF-8, parses with stdlib ``tomllib``, maps key paths to
line:column (:mod:`symphony.score.positions`) and hands the document to
:func:`symphony.score.validate.build_score`. Every defect becomes a
:class:`~symphony.errors.ScoreError`; no other exception escapes for any input.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib

from symphony.errors import ScoreError, ScoreProblem
from symphony.params import Catalog
from symphony.score.model import Score
from symphony.score.positions import PositionMap
from symphony.score.validate import build_score

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_STRING_CHARS = 1024 * 1024
MAX_DEPTH = 32
_AT_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def load_score(path: str | os.PathLike, catalog: Catalog, *, text: str | None = None) -> Score:
    """Load, validate and realize a chapter score.

    Parameters
    ----------
    path : str or os.PathLike
        The score file (``.toml``). Used for messages only when ``text`` is given.
    catalog : Catalog
        Instruments and effects the score may name, with their parameters.
    text : str, optional
        The score text; when given, the file is not read.

    Returns
    -------
    Score
        Frozen; generative blocks realized.

    Raises
    ------
    ScoreError
        Every defect found, sorted by line, each with ``path:line:col``.

    Examples
    --------
    >>> from symphony.params import Catalog
    >>> load_score("x.toml", Catalog(), text='[chapter]\\ntitle = "T"').title
    'T'
    """
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
    if text is None:
        data = _read(name)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[:e.start].count(b"\n") + 1
            column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
            raise ScoreError(name, line, column, f"the file is not valid UTF-8 (byte 0x{data[e.start]:02x})",
                             "save the score as UTF-8 text") from None
        if text.startswith("\ufeff"):
            text = text[1:]
    else:
        data = text.encode("utf-8", "surrogatepass")
    sha = hashlib.sha256(data).hexdigest()
    if not text.strip():
        raise ScoreError(name, 0, 0, "the score file is empty",
                         "start with [chapter] and title = \"...\"; see docs/score-format.md")
    if len(text) > MAX_FILE_BYTES:
        raise ScoreError(name, 0, 0, f"the score is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB",
                         "split it into chapters")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = _AT_RE.search(msg)
        line, column = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        msg = _AT_RE.sub("", msg).strip()
        raise ScoreError(name, line, column, f"TOML syntax error: {msg}",
                         "check quotes, brackets and `key = value` syntax at that spot") from None
    except RecursionError:
        raise ScoreError(name, 0, 0, "TOML syntax error: nesting too deep",
                         f"keep arrays and tables nested at most {MAX_DEPTH} deep") from None
    except (ValueError, TypeError, OverflowError) as e:  # tomllib edge cases (e.g. huge numbers)
        raise ScoreError(name, 0, 0, f"TOML syntax error: {e}", "check the value's syntax") from None
    if not doc:
        raise ScoreError(name, 0, 0, "the score file is empty (only comments or blank lines)",
                         "start with [chapter] and title = \"...\"; see docs/score-format.md")
    positions = PositionMap(text)
    problems = _limits(doc, (), positions, name, 0)
    if problems:
        raise ScoreError.collect(problems)
    try:
        return build_score(doc, catalog, positions, name, sha)
    except ScoreError:
        raise
    except RecursionError:
        raise ScoreError(name, 0, 0, "the score is nested too deeply", "simplify it") from None


def _read(name: str) -> bytes:
    if os.path.isdir(name):
        raise ScoreError(name, 0, 0, "the score path is a directory, not a file",
                         "give the path of a .toml score file")
    try:
        with open(name, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScoreError(name, 0, 0, "score file not found",
                         "check the path; scores live in scores/NN-<slug>.toml") from None
    except OSError as e:
        raise ScoreError(name, 0, 0, f"cannot read the score file: {e.strerror or e}",
                         "check the path and its permissions") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScoreError(name, 0, 0, f"the score is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB",
                         "split it into chapters")
    return data


def _limits(value: object, keypath: tuple, positions: PositionMap, name: str, depth: int) -> list[ScoreProblem]:
    """String length and nesting depth limits (before any other check)."""
    if depth > MAX_DEPTH:
        line, col = positions.find(keypath)
        return [ScoreProblem(name, line, col, f"nesting depth exceeds the limit of {MAX_DEPTH}",
                             "flatten the arrays/tables")]
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            line, col = positions.find(keypath)
            return [ScoreProblem(name, line, col, f"string of {len(value)} characters exceeds the limit "
                                 f"of 1 MB ({MAX_STRING_CHARS} characters)", "split it into several passages")]
        return []
    out: list[ScoreProblem] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_limits(v, keypath + (k,), positions, name, depth + 1))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_limits(v, keypath + (i,), positions, name, depth + 1))
    return out
