"""Exception hierarchy of symphony.

``SymphonyError`` is the root. Errors caused by bad *input* (a score, a command-line
value) are ``ScoreError`` or ``ParameterError`` and map to exit status 2; a
``RenderError`` (disk full, interrupted render, numerical fault) maps to exit status 1.
"""

from __future__ import annotations

from dataclasses import dataclass


class SymphonyError(Exception):
    """Root of every error symphony raises on purpose."""


@dataclass(frozen=True)
class ScoreProblem:
    """One defect found in a score file, with its position (1-based; 0 = unknown)."""

    path: str
    line: int
    column: int
    message: str
    hint: str = ""

    def format(self) -> str:
        """Render compiler-style: ``path:line:col: error: message`` plus an indented hint."""
        where = self.path
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        text = f"{where}: error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ScoreError(SymphonyError):
    """One or more defects in a score file.

    Parameters
    ----------
    path : str
        The score file.
    line, column : int
        1-based position of the first defect; 0 when unknown.
    message : str
        What is wrong, in the score's own key names and units.
    hint : str
        How to fix it.
    problems : sequence of ScoreProblem, optional
        Every defect found, sorted by line. When given, ``path``/``line``/... describe
        the first one.
    """

    def __init__(
        self,
        path: str,
        line: int,
        column: int,
        message: str,
        hint: str = "",
        problems: "tuple[ScoreProblem, ...] | None" = None,
    ) -> None:
        first = ScoreProblem(str(path), int(line), int(column), message, hint)
        self.problems: tuple[ScoreProblem, ...] = tuple(problems) if problems else (first,)
        p = self.problems[0]
        self.path, self.line, self.column, self.message, self.hint = (
            p.path, p.line, p.column, p.message, p.hint)
        super().__init__(self.format())

    @classmethod
    def collect(cls, problems: "list[ScoreProblem]") -> "ScoreError":
        """Build one error that carries every problem, sorted by (line, column)."""
        ordered = tuple(sorted(problems, key=lambda p: (p.path, p.line, p.column)))
        first = ordered[0]
        return cls(first.path, first.line, first.column, first.message, first.hint, ordered)

    def format(self) -> str:
        """All problems, one compiler-style entry each."""
        return "\n".join(p.format() for p in self.problems)


class ParameterError(SymphonyError, ValueError):
    """Misuse of the DSP or rendering API: a value out of its documented range."""


class RenderError(SymphonyError):
    """A render could not complete (I/O failure, interruption, numerical fault)."""
