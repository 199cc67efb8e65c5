"""The album: every chapter mastered to one loudness target, then joined with gaps.

Each chapter is rendered like any score, normalized to the album target, or to its own
``[master] lufs`` when the score says it is meant to be quieter (or louder). The album file
is the exact concatenation of the chapter files (the samples are copied as integers, so
the album holds bit for bit what the chapter files hold) with ``gap_seconds`` of digital
silence between chapters. Like every render it is written to a hidden temporary and
renamed into place only when complete.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from symphony.errors import ParameterError, RenderError
from symphony.render import READ_BLOCK, RenderSettings, RenderSummary, _AtomicFiles, _open_writer, _OutputMeter

#: Chapter score files are named ``NN-slug.toml`` (01..99).
CHAPTER_FILE = re.compile(r"^(\d\d)-[A-Za-z0-9._-]+\.toml$")
DEFAULT_TARGET_LUFS = -14.0
DEFAULT_GAP_SECONDS = 3.0
ALBUM_TITLE = "Metropolis - a symphonic electronic soundtrack"


@dataclass
class AlbumSummary:
    """The album file and its chapters."""

    path: str
    chapters: list[RenderSummary] = field(default_factory=list)
    duration_seconds: float = 0.0

    def format(self) -> str:
        lines = [f"{self.path}  ({len(self.chapters)} chapters, {self.duration_seconds / 60:.1f} min)"]
        for c in self.chapters:
            lines.append(f"  {Path(c.path).name:<44} {c.duration_seconds / 60:5.2f} min  "
                         f"{c.integrated_lufs:6.2f} LUFS  {c.true_peak_dbtp:6.2f} dBTP")
        loud = [c.integrated_lufs for c in self.chapters]
        if loud:
            lines.append(f"  loudness spread {max(loud) - min(loud):.2f} LU")
        return "\n".join(lines)


def chapter_scores(folder: str | Path = "scores") -> list[Path]:
    """The chapter scores of ``folder`` (``NN-slug.toml``), in chapter order."""
    found = sorted(p for p in Path(folder).glob("*.toml") if CHAPTER_FILE.match(p.name))
    if not found:
        raise ParameterError(f"no chapter scores (NN-name.toml) in {folder}; "
                             f"give the score files to join into an album")
    return found


def chapter_settings(score, settings: RenderSettings, target_lufs: float) -> RenderSettings:
    """The chapter's own loudness target if its score sets one, else the album target."""
    lufs = score.master.lufs if score.master.lufs is not None else target_lufs
    return replace(settings, lufs=lufs)


def join_album(chapter_files: Sequence[Path], out_path: Path, settings: RenderSettings, *,
               gap_seconds: float = DEFAULT_GAP_SECONDS) -> float:
    """Concatenate rendered chapter files with silent gaps; returns the album duration (s).

    Raises
    ------
    RenderError
        If the chapter files differ in sample rate or format.
    """
    infos = [sf.info(p) for p in chapter_files]
    rates = {i.samplerate for i in infos}
    subtypes = {i.subtype for i in infos}
    if len(rates) != 1 or len(subtypes) != 1:
        raise RenderError(f"chapters differ in sample rate or depth ({sorted(rates)}, {sorted(subtypes)}); "
                          f"render them with the same --sr and --bits")
    sample_rate = rates.pop()
    dtype = "float32" if settings.bits == 32 else ("int16" if settings.bits == 16 else "int32")
    gap = np.zeros((int(round(gap_seconds * sample_rate)), 2), dtype=dtype)
    files = _AtomicFiles()
    frames = 0
    # the manifest's figures, measured on the samples as written (as the render does)
    meter = _OutputMeter(sample_rate, settings.bits) if settings.manifest else None
    try:
        tmp = files.temp_for(out_path)
        with _open_writer(tmp, sample_rate, settings, title=ALBUM_TITLE,
                          comment="chapters: " + ", ".join(p.name for p in chapter_files)) as out:
            for k, path in enumerate(chapter_files):
                with sf.SoundFile(path) as f:
                    # the gap before every chapter but the first, then the chapter, streamed
                    blocks = f.blocks(blocksize=READ_BLOCK, dtype=dtype, always_2d=True)
                    for block in itertools.chain([gap] if k else [], blocks):
                        out.write(block)
                        if meter is not None:
                            meter.add(block)
                        frames += block.shape[0]
        if settings.manifest:  # album.manifest.json, committed with the album (symphony.manifest)
            from symphony.manifest import add_album_manifest

            add_album_manifest(files, tmp, out_path, chapter_files, settings, gap_seconds=gap_seconds,
                               measured=meter.measured())
        files.commit()
    finally:
        files.cleanup()
    return frames / sample_rate


def render_chapter(path: str | Path, out_dir: str | Path, settings: RenderSettings) -> RenderSummary:
    """Render one chapter score to ``out_dir``."""
    from symphony.catalog import load
    from symphony.render import output_path, render_score

    return render_score(load(path), output_path(path, out_dir, settings.format), settings)


def render_album(score_paths: Sequence[str | Path], out_dir: str | Path, settings: RenderSettings, *,
                 target_lufs: float = DEFAULT_TARGET_LUFS, gap_seconds: float = DEFAULT_GAP_SECONDS
                 ) -> AlbumSummary:
    """Render the chapters one after the other and join them into ``out_dir/album.<format>``.

    The Python API; ``symphony render --album`` does the same with limits checks and
    parallel, interruptible workers.
    """
    from symphony.catalog import load

    summaries = [render_chapter(path, out_dir, chapter_settings(load(path), settings, target_lufs))
                 for path in score_paths]
    album_path = Path(out_dir) / f"album.{settings.format}"
    duration = join_album([Path(s.path) for s in summaries], album_path, settings, gap_seconds=gap_seconds)
    return AlbumSummary(str(album_path), summaries, duration)
