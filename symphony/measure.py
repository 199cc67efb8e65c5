"""``symphony measure``: the numbers to check a render by (loudness, peaks, clicks).

Reads the file in blocks for the loudness meter; the click detector needs the whole
signal of a channel, so it runs on files up to ``MAX_CLICK_SECONDS`` long.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from symphony.dsp.analysis import click_ratio, clipped_samples, dc_offset_db
from symphony.dsp.loudness import LoudnessMeter
from symphony.errors import ParameterError

MAX_CLICK_SECONDS = 900.0
READ_BLOCK = 1 << 16


@dataclass
class Measurement:
    """What ``symphony measure`` reports for one file."""

    path: str
    duration_seconds: float
    sample_rate: int
    integrated_lufs: float
    loudness_range_lu: float
    max_short_term_lufs: float
    sample_peak_dbfs: float
    true_peak_dbtp: float
    clipped_samples: int
    dc_offset_db: float
    click_ratio: float | None

    def format(self) -> str:
        click = "n/a" if self.click_ratio is None else f"{self.click_ratio:.1f}"
        return (f"{self.path}: {self.duration_seconds:.1f} s, {self.integrated_lufs:.2f} LUFS "
                f"(LRA {self.loudness_range_lu:.1f} LU, max short-term {self.max_short_term_lufs:.1f}), "
                f"peak {self.sample_peak_dbfs:.2f} dBFS, true peak {self.true_peak_dbtp:.2f} dBTP, "
                f"{self.clipped_samples} clipped, DC {self.dc_offset_db:.0f} dB, click ratio {click}")

    def as_dict(self) -> dict:
        return asdict(self)


def audio_info(path: str | Path) -> sf._SoundFileInfo:
    """soundfile's info of an audio file; ``ParameterError`` if it is not one."""
    try:
        return sf.info(path)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ParameterError(f"{path}: cannot read audio ({exc})") from None


def stereo_blocks(path: str | Path, blocksize: int = READ_BLOCK) -> Iterator[np.ndarray]:
    """The file as C-contiguous float64 ``(2, n)`` blocks (mono doubled, extra channels dropped)."""
    with sf.SoundFile(path) as f:
        for block in f.blocks(blocksize=blocksize, dtype="float64", always_2d=True):
            x = block.T if block.shape[1] >= 2 else np.vstack([block.T, block.T])
            yield np.ascontiguousarray(x[:2])


def measure_file(path: str | Path) -> Measurement:
    """Measure one audio file.

    Raises
    ------
    ParameterError
        If the file cannot be read as audio.
    """
    path = Path(path)
    info = audio_info(path)
    sr = info.samplerate
    meter = LoudnessMeter(sr, channels=2)
    clipped = 0
    sums = np.zeros(2)
    keep = info.frames / sr <= MAX_CLICK_SECONDS
    parts = []
    for x in stereo_blocks(path):
        meter.process(x)
        clipped += clipped_samples(x)
        sums += x.sum(axis=1)
        if keep:
            parts.append(x)
    meter.flush_true_peak()
    dc = dc_offset_db(sums / max(info.frames, 1))
    clicks = None
    if keep and parts:
        audio = np.concatenate(parts, axis=1)
        clicks = max(click_ratio(audio[c], sr) for c in range(2))
    st = meter.short_term_lufs()
    return Measurement(str(path), info.frames / sr, sr, meter.integrated_lufs(), meter.loudness_range_lu(),
                       float(np.max(st)) if st.size else float("-inf"), meter.sample_peak_dbfs(),
                       meter.true_peak_dbtp(), clipped, dc, clicks)


__all__ = ["Measurement", "audio_info", "measure_file", "stereo_blocks"]
