"""Human-readable and JSON reports of comparisons, for one file pair or a folder of stems."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symphony.errors import ParameterError
from symphony.fingerprint.compare import Comparison, Tolerances, compare
from symphony.fingerprint.fileformat import Fingerprint
from symphony.fingerprint.timegrid import TimeGrid

#: Findings listed per comparison in the text report (the JSON report has all).
MAX_LISTED = 12


def format_comparison(c: Comparison, *, title: str | None = None, indent: str = "") -> str:
    """The text report: verdict line, then one line per finding (time, bars, bands, amount).

    Examples
    --------
    >>> from symphony.fingerprint.compare import Comparison
    >>> print(format_comparison(Comparison(True, 1.0, [], {}, "a.wav", "b.fp")))
    same: a.wav vs b.fp  (similarity 1.000)
    """
    verdict = "same" if c.same else "differs"
    head = f"{indent}{verdict}: {title or f'{c.a_name} vs {c.b_name}'}  (similarity {c.similarity:.3f})"
    lines = [head]
    for f in c.findings[:MAX_LISTED]:
        lines.append(f"{indent}  {f.where:<52} {f.kind:<12} {f.detail}")
    if len(c.findings) > MAX_LISTED:
        lines.append(f"{indent}  ... and {len(c.findings) - MAX_LISTED} more (use --json for all)")
    for note in c.notes:
        lines.append(f"{indent}  note: {note}")
    if c.audio_sha256_equal is False and c.same:
        lines.append(f"{indent}  note: the samples differ bit-wise (sha256), within the tolerances")
    return "\n".join(lines)


@dataclass
class StemsComparison:
    """Per-stem comparisons of two stems folders; ``missing``/``extra`` name unpaired stems."""

    comparisons: dict[str, Comparison]
    missing: list[str] = field(default_factory=list)  # in b (reference) only
    extra: list[str] = field(default_factory=list)    # in a only
    a_name: str = "a"
    b_name: str = "b"

    @property
    def same(self) -> bool:
        return not self.missing and not self.extra and all(c.same for c in self.comparisons.values())

    @property
    def similarity(self) -> float:
        values = [c.similarity for c in self.comparisons.values()] + [0.0] * (len(self.missing) + len(self.extra))
        return min(values) if values else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"same": self.same, "similarity": round(self.similarity, 4), "a": self.a_name, "b": self.b_name,
                "missing": self.missing, "extra": self.extra,
                "stems": {name: c.to_dict() for name, c in self.comparisons.items()}}

    def format(self) -> str:
        verdict = "same" if self.same else "differs"
        differing = [n for n, c in self.comparisons.items() if not c.same]
        lines = [f"{verdict}: stems {self.a_name} vs {self.b_name}  ({len(self.comparisons)} compared, "
                 f"{len(differing)} differ; lowest similarity {self.similarity:.3f})"]
        for name in self.missing:
            lines.append(f"  {name}: missing in {self.a_name}")
        for name in self.extra:
            lines.append(f"  {name}: only in {self.a_name}")
        for name, c in self.comparisons.items():
            if c.same:
                lines.append(f"  {name}: same (similarity {c.similarity:.3f})")
            else:
                lines.append(format_comparison(c, title=f"section stem '{name}'", indent="  "))
        return "\n".join(lines)


def compare_stems(a: dict[str, Fingerprint], b: dict[str, Fingerprint], *, tolerances: Tolerances | None = None,
                  grid: TimeGrid | None = None, a_name: str = "a", b_name: str = "b") -> StemsComparison:
    """Compare stems by name (``a`` new, ``b`` reference)."""
    result = StemsComparison({}, sorted(set(b) - set(a)), sorted(set(a) - set(b)), a_name, b_name)
    for name in sorted(set(a) & set(b)):
        result.comparisons[name] = compare(a[name], b[name], tolerances=tolerances, grid=grid,
                                           a_name=f"{a_name}/{name}", b_name=f"{b_name}/{name}")
    return result


def to_json(result: Comparison | StemsComparison) -> str:
    return json.dumps(result.to_dict(), indent=2)


def load_stems(directory: str | os.PathLike, *, score=None, command: str = "") -> dict[str, Fingerprint]:
    """Fingerprints of every stem in a folder (``.fp`` files read, audio fingerprinted)."""
    from symphony.fingerprint.audio import load_fingerprint, stem_files

    return {name: load_fingerprint(path, score=score, command=command)
            for name, path in stem_files(directory).items()}


def compare_paths(a: str | os.PathLike, b: str | os.PathLike, *, stems: bool = False, score_path: str | None = None,
                  tolerances: Tolerances | None = None) -> Comparison | StemsComparison:
    """``symphony compare``: files (wav/flac/.fp/.toml) or, with ``stems``, two folders.

    Raises
    ------
    ParameterError
        A path is missing, of an unknown kind, or not a folder when ``stems`` is set.
    """
    from symphony.fingerprint.audio import load_fingerprint

    score = None
    grid = None
    if score_path:
        from symphony.catalog import load

        score = load(score_path)
        grid = TimeGrid.from_score(score)
    a, b = Path(a), Path(b)
    if stems:
        for p in (a, b):
            if not p.is_dir():
                raise ParameterError(f"{p}: --stems compares two folders of stems, got a file")
        return compare_stems(load_stems(a, score=score), load_stems(b, score=score), tolerances=tolerances,
                             grid=grid, a_name=str(a), b_name=str(b))
    for p in (a, b):
        if p.is_dir():
            raise ParameterError(f"{p}: is a folder; use --stems to compare folders of stems")
    fa = None if a.suffix.lower() == ".toml" else load_fingerprint(a, score=score)
    fb = None if b.suffix.lower() == ".toml" else load_fingerprint(b, score=score)
    # a score against a windowed golden is rendered in the same windows
    fa = fa or _score_like(a, fb)
    fb = fb or _score_like(b, fa)
    return compare(fa, fb, tolerances=tolerances, grid=grid, a_name=str(a), b_name=str(b))


def _score_like(path: Path, other: Fingerprint | None) -> Fingerprint:
    """Fingerprint of the score at ``path``, in ``other``'s windows if it has any."""
    from symphony.catalog import load
    from symphony.fingerprint.audio import RENDER_RATE, fingerprint_score

    windows = None
    segments = (other.source.get("segments") if other is not None else None) or None
    if segments:
        windows = [(round(start * RENDER_RATE), round(start * RENDER_RATE) + round(length * RENDER_RATE))
                   for _, start, length in segments]
    return fingerprint_score(load(path), windows=windows)[0]
