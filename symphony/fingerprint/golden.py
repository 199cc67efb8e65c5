"""Golden fingerprints of the scores (``tests/golden/``) and the ``symphony fingerprint`` workflow.

For a score ``scores/<name>.toml`` the goldens are ``<golden_dir>/<name>.fp`` (the mastered
mix) and ``<golden_dir>/<name>.stems/<stem>.fp`` (one per section and effect bus), made from
one render of the whole score (tail included) at 22050 Hz without loudness normalization (so
a change in one section stays local).
They change only through ``symphony fingerprint --update-golden``, ``make goldens`` or
``pytest --update-goldens``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from symphony.errors import ParameterError
from symphony.fingerprint.audio import AUDIO_SUFFIXES, RENDER_RATE, fingerprint_file, fingerprint_score
from symphony.fingerprint.compare import Comparison, Tolerances, compare
from symphony.fingerprint.fileformat import Fingerprint, read_fingerprint, write_fingerprint
from symphony.fingerprint.report import StemsComparison, compare_stems

DEFAULT_GOLDEN_DIR = Path("tests/golden")
#: Where ``symphony fingerprint scores/x.toml`` writes without ``-o`` (next to the renders).
DEFAULT_SCORE_OUT = "renders"
REGENERATE = "make goldens  (or: symphony fingerprint --update-golden {score})"


def golden_paths(score_path: str | os.PathLike, golden_dir: str | os.PathLike = DEFAULT_GOLDEN_DIR
                 ) -> tuple[Path, Path]:
    """``(<golden_dir>/<name>.fp, <golden_dir>/<name>.stems/)`` for ``scores/<name>.toml``."""
    name = Path(score_path).stem
    return Path(golden_dir) / f"{name}.fp", Path(golden_dir) / f"{name}.stems"


def make_golden(score_path: str | os.PathLike, *, display_path: str | None = None
                ) -> tuple[Fingerprint, dict[str, Fingerprint]]:
    """Render ``score_path`` and fingerprint the mix and stems (nothing is written).

    ``display_path`` (default: ``score_path``) is the path recorded in the files, e.g. the
    repository-relative ``scores/x.toml``, so goldens do not depend on the checkout.
    """
    from symphony.catalog import load

    shown = display_path or Path(score_path).as_posix()
    score = load(score_path)
    mix, stems = fingerprint_score(score, stems=True, sample_rate=RENDER_RATE,
                                   command=REGENERATE.format(score=shown))
    for fp in (mix, *stems.values()):
        fp.source["path"] = shown
        fp.score["path"] = shown
    return mix, stems


def write_golden(score_path: str | os.PathLike, mix: Fingerprint, stems: dict[str, Fingerprint],
                 golden_dir: str | os.PathLike = DEFAULT_GOLDEN_DIR) -> list[Path]:
    """Write the goldens of one score; stale stem files are removed."""
    mix_path, stems_dir = golden_paths(score_path, golden_dir)
    written = [write_fingerprint(mix, mix_path)]
    if stems_dir.exists():
        shutil.rmtree(stems_dir)
    for name, fp in stems.items():
        written.append(write_fingerprint(fp, stems_dir / f"{name}.fp"))
    return written


def update_goldens(score_paths, golden_dir: str | os.PathLike = DEFAULT_GOLDEN_DIR) -> list[Path]:
    """Regenerate the goldens of every score in ``score_paths``; returns the files written."""
    written: list[Path] = []
    for path in score_paths:
        mix, stems = make_golden(path, display_path=_relative(path))
        written += write_golden(path, mix, stems, golden_dir)
    return written


def _relative(path: str | os.PathLike) -> str:
    p = Path(path).resolve()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return Path(path).as_posix()


@dataclass
class GoldenCheck:
    """A fresh render compared with the goldens of one score."""

    score_path: str
    mix: Comparison
    stems: StemsComparison

    @property
    def same(self) -> bool:
        return self.mix.same and self.stems.same

    def format(self) -> str:
        from symphony.fingerprint.report import format_comparison

        text = [format_comparison(self.mix, title=f"{self.score_path} mix vs golden"), self.stems.format()]
        if self.mix.audio_sha256_equal is False:
            text.append("note: audio sha256 differs from the golden's (reported only: float bits drift "
                        "across numpy/BLAS builds)")
        if not self.same:
            text.append(f"if the change is intended, regenerate with: "
                        f"{REGENERATE.format(score=self.score_path)} and commit the goldens with the change")
        return "\n".join(text)


def check_golden(score_path: str | os.PathLike, golden_dir: str | os.PathLike = DEFAULT_GOLDEN_DIR, *,
                 tolerances: Tolerances | None = None,
                 fresh: tuple[Fingerprint, dict[str, Fingerprint]] | None = None) -> GoldenCheck:
    """Render ``score_path`` (or use ``fresh``) and compare with its goldens.

    Raises
    ------
    ParameterError
        When the golden files are missing (with the command that makes them).
    """
    mix_path, stems_dir = golden_paths(score_path, golden_dir)
    if not mix_path.is_file():
        raise ParameterError(f"{mix_path}: no golden fingerprint for {score_path}; make it with "
                             f"{REGENERATE.format(score=Path(score_path).as_posix())}")
    mix, stems = fresh if fresh is not None else make_golden(score_path, display_path=_relative(score_path))
    golden_mix = read_fingerprint(mix_path)
    golden_stems = {p.stem: read_fingerprint(p) for p in sorted(stems_dir.glob("*.fp"))} if stems_dir.is_dir() else {}
    return GoldenCheck(str(score_path),
                       compare(mix, golden_mix, tolerances=tolerances, a_name="render", b_name=str(mix_path)),
                       compare_stems(stems, golden_stems, tolerances=tolerances, a_name="render",
                                     b_name=str(stems_dir)))


def fingerprint_inputs(inputs, *, out: str | None = None, stems: bool = False, command: str = "",
                       score_path: str | None = None) -> list[Path]:
    """``symphony fingerprint``: audio files, folders of audio files, or scores -> ``.fp`` files.

    Without ``out`` each result goes next to its input (``x.wav`` -> ``x.fp``; a folder
    ``x.stems/`` -> ``x.stems/*.fp``), a score's into ``renders/``. With several inputs
    ``out`` must be a folder.

    Raises
    ------
    ParameterError
        Unknown input kinds, missing files, ``-o FILE`` with several inputs.
    """
    inputs = [Path(p) for p in inputs]
    if not inputs:
        raise ParameterError("give an audio file, a folder of stems or a score to fingerprint")
    score = None
    if score_path:
        from symphony.catalog import load

        score = load(score_path)
    out_path = Path(out) if out else None
    many = len(inputs) > 1
    if many and out_path is not None and out_path.suffix == ".fp":
        raise ParameterError(f"-o {out_path}: with {len(inputs)} inputs, -o must be a folder")
    written: list[Path] = []
    for p in inputs:
        if p.is_dir():
            target_dir = out_path if out_path is not None else p
            for f in sorted(p.iterdir()):
                if f.suffix.lower() in AUDIO_SUFFIXES:
                    written.append(write_fingerprint(fingerprint_file(f, command=command, score=score),
                                                     target_dir / f"{f.stem}.fp"))
            continue
        if not p.exists():
            raise ParameterError(f"{p}: no such file")
        suffix = p.suffix.lower()
        default_dir = Path(DEFAULT_SCORE_OUT) if suffix == ".toml" else p.parent
        if many or out_path is None:
            base = (out_path if out_path is not None else default_dir) / f"{p.stem}.fp"
        else:
            base = out_path
        if suffix == ".toml":
            from symphony.catalog import load

            mix, stem_fps = fingerprint_score(load(p), stems=stems, command=command)
            written.append(write_fingerprint(mix, base))
            for name, fp in stem_fps.items():
                written.append(write_fingerprint(fp, base.with_name(f"{base.stem}.stems") / f"{name}.fp"))
        elif suffix in AUDIO_SUFFIXES:
            written.append(write_fingerprint(fingerprint_file(p, command=command, score=score), base))
        else:
            raise ParameterError(f"{p}: expected an audio file ({', '.join(AUDIO_SUFFIXES)}), a folder of "
                                 f"them or a .toml score, got '{suffix or 'no suffix'}'")
    return written

