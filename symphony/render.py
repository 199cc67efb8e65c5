"""Offline sink: Conductor blocks -> WAV/FLAC files on disk (the only soundfile writer).

Memory stays flat with duration: blocks stream to disk and the loudness meter keeps only
one value per 100 ms. Every file is written to a hidden temporary next to its target and
renamed into place only when the whole render succeeded, so a failed or interrupted render
leaves no partial file and the previous render intact.

With a loudness target the render takes two passes: pass 1 writes the pre-master mix (and
stems) to temporary float files while measuring its integrated loudness (ITU-R BS.1770);
pass 2 applies the gain and the true-peak limiter and measures the limited output's loudness.
Limiting lowers the loudness a little, so pass 2 repeats with a corrected gain (a secant step
on the measured loudness-versus-gain curve) until the output is within
``LUFS_TOLERANCE_LU`` of the target; these measuring passes write nothing. A last pass
writes the output format with the gain found.

The file's figures (sample and true peak, loudness, loudness range, the sha256 of the decoded
samples) are measured while it is written, on the samples exactly as a reader decodes them
and in a reader's blocks (:class:`_OutputMeter`), so they equal ``symphony measure``'s to the
last digit and the manifest need not read the file again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from symphony import __version__
from symphony.conductor import Conductor
from symphony.dsp.base import SUPPORTED_SAMPLE_RATES, db_to_gain
from symphony.dsp.loudness import LoudnessMeter
from symphony.errors import ParameterError, RenderError
from symphony.score.model import Score

log = logging.getLogger(__name__)

FORMATS = ("wav", "flac")
BITS = (16, 24, 32)
OUTPUT_SAMPLE_RATES = (44100, 48000, 96000) + tuple(r for r in SUPPORTED_SAMPLE_RATES
                                                     if r not in (44100, 48000, 96000))
#: How close pass 2 must bring the output to the loudness target.
LUFS_TOLERANCE_LU = 0.02
MAX_LOUDNESS_PASSES = 4
READ_BLOCK = 65536

ProgressFn = Callable[[str, int, int], None]  # (stage, frames_done, frames_total)


#: Set by the command line's SIGINT/SIGTERM handlers. The render loops check it every block
#: and once more before renaming anything into place, so a signal whose KeyboardInterrupt
#: was swallowed somewhere (for example inside a library's own exception handling while
#: numba compiles) still stops the render with nothing written.
STOP_REQUESTED = threading.Event()


def _check_stop() -> None:
    if STOP_REQUESTED.is_set():
        raise KeyboardInterrupt


@dataclass(frozen=True)
class RenderSettings:
    """How to render: output format, rate, depth, loudness target, stems.

    ``sample_rate`` / ``lufs`` / ``seed`` None mean "as the score says".
    """

    sample_rate: int | None = None
    format: str = "wav"
    bits: int = 24
    lufs: float | None = None
    stems: bool = False
    block_size: int = 16384  # offline: larger blocks amortize per-block work (output is block-size invariant)
    seed: int | None = None
    #: Write ``<name>.manifest.json`` next to the audio (symphony.manifest).
    manifest: bool = True
    #: Also write ``<name>.fp``, the render's fingerprint (symphony.fingerprint).
    fingerprint: bool = False
    #: Also write ``<name>.click.wav``, a click track that follows the tempo map (symphony.clicktrack).
    click: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ParameterError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.bits not in BITS:
            raise ParameterError(f"bits must be one of 16, 24, 32, got {self.bits!r}")
        if self.format == "flac" and self.bits == 32:
            raise ParameterError("FLAC holds 16 or 24-bit integers, got bits=32; "
                                 "use --bits 24, or --format wav for 32-bit float")
        if self.sample_rate is not None and self.sample_rate not in SUPPORTED_SAMPLE_RATES:
            raise ParameterError(f"sample rate must be one of "
                                 f"{', '.join(map(str, SUPPORTED_SAMPLE_RATES))} Hz, got {self.sample_rate}")
        if self.lufs is not None and not -40.0 <= self.lufs <= -5.0:
            raise ParameterError(f"lufs target must be in [-40, -5] LUFS, got {self.lufs}")
        if not 1 <= self.block_size <= 65536:
            raise ParameterError(f"block size must be in [1, 65536] frames, got {self.block_size}")

    @property
    def subtype(self) -> str:
        return {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}[self.bits]


@dataclass
class RenderSummary:
    """What a render produced and measured."""

    path: str
    sample_rate: int
    n_frames: int
    duration_seconds: float
    peak_dbfs: float
    true_peak_dbtp: float
    integrated_lufs: float
    gain_db: float
    render_seconds: float
    realtime_factor: float
    content_hash: str
    stems: list[str] = field(default_factory=list)
    click: str | None = None  # the click track's path (render --click)
    #: The written file as a reader decodes it: ``symphony.manifest.measure_audio``'s dict.
    measured: dict | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> str:
        fields = asdict(self)
        fields.pop("measured")
        return json.dumps(fields, indent=2)

    def format(self) -> str:
        """The human summary printed at the end of a render."""
        minutes, seconds = divmod(self.duration_seconds, 60.0)
        text = (f"{self.path}\n"
                f"  duration   {int(minutes)}:{seconds:04.1f}  ({self.n_frames} frames at {self.sample_rate} Hz)\n"
                f"  peak       {self.peak_dbfs:6.2f} dBFS   true peak {self.true_peak_dbtp:6.2f} dBTP\n"
                f"  loudness   {self.integrated_lufs:6.2f} LUFS integrated (gain {self.gain_db:+.2f} dB)\n"
                f"  render     {self.render_seconds:.1f} s, {self.realtime_factor:.1f}x real time")
        if self.stems:
            text += f"\n  stems      {len(self.stems)} files in {Path(self.stems[0]).parent}"
        if self.click:
            text += f"\n  click      {self.click}"
        return text


def output_path(score_path: str | os.PathLike, out_dir: str | os.PathLike, fmt: str = "wav") -> Path:
    """``renders/NN-slug.wav`` from ``scores/NN-slug.toml``; odd characters become ``-``.

    Examples
    --------
    >>> output_path("scores/01-masters.toml", "renders").as_posix()
    'renders/01-masters.wav'
    """
    return Path(out_dir) / f"{safe_name(Path(score_path).stem, 'score')}.{fmt}"


#: Longest file-name stem we derive (leaves room for ``.<name>.XXXXXXXX.part`` under 255 bytes).
MAX_NAME_CHARS = 120


def safe_name(text: str, fallback: str = "untitled") -> str:
    """A file-name stem from arbitrary text: ASCII letters, digits, ``.``, ``_``, ``-`` only.

    Runs of anything else (``/``, ``..``, spaces, control characters, non-ASCII) become one
    ``-``; leading/trailing dots and dashes are stripped (no hidden files, no ``..``, no
    option-like names); at most ``MAX_NAME_CHARS`` characters; empty -> ``fallback``.

    Examples
    --------
    >>> safe_name("../../etc/pa ss*wd")
    'etc-pa-ss-wd'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text))
    safe = re.sub(r"\.{2,}", ".", safe).strip(".-")[:MAX_NAME_CHARS].rstrip(".-")
    return safe or fallback


def _stem_file_names(names) -> list[str]:
    """Safe, unique file-name stems for stems named after sections and buses."""
    out: list[str] = []
    for name in names:
        base = candidate = safe_name(name, "stem")
        k = 2
        while candidate.lower() in (o.lower() for o in out):
            candidate = f"{base}-{k}"
            k += 1
        out.append(candidate)
    return out


def content_hash(score: Score, settings: RenderSettings, sample_rate: int, seed: int) -> str:
    """sha256 of what determines the audio: score bytes, settings, seed, engine version."""
    h = hashlib.sha256()
    h.update(score.source_sha256.encode())
    h.update(json.dumps({"sample_rate": sample_rate, "format": settings.format, "bits": settings.bits,
                         "lufs": settings.lufs, "seed": seed, "version": __version__},
                        sort_keys=True).encode())
    return h.hexdigest()


class _Quantizer:
    """float64 (2, n) -> the array soundfile writes for the target depth.

    16 bit: TPDF dither of +-1 LSB (two uniform variables), then rounding to int16;
    24 bit: rounding to 24-bit steps carried in int32 (libsndfile keeps the top 24 bits);
    32 bit: float32.
    """

    def __init__(self, bits: int, rng: np.random.Generator) -> None:
        self.bits = bits
        self.rng = rng

    def __call__(self, x: np.ndarray) -> np.ndarray:
        frames = x.T
        if self.bits == 32:
            return np.ascontiguousarray(frames, dtype=np.float32)
        if self.bits == 16:
            scale = 32767.0
            dither = self.rng.random(frames.shape) - self.rng.random(frames.shape)
            q = np.round(frames * scale + dither)
            return np.clip(q, -32768, 32767).astype(np.int16)
        scale = 8388607.0
        q = np.clip(np.round(frames * scale), -8388608, 8388607).astype(np.int32)
        return q << 8


class _OutputMeter:
    """Meters and hashes the written samples as a reader decodes them, in a reader's blocks.

    ``add(q)`` takes what :class:`_Quantizer` hands to soundfile; the decoded values are
    those libsndfile returns as float64 (16 bit: ``q / 2**15``; 24 bit, carried as
    ``q << 8`` in int32: ``q / 2**31``; 32 bit: the float32 values), and they reach
    :class:`symphony.manifest.DecodedAudioMeter` in blocks of ``READ_BLOCK`` frames from the
    file's start, as :func:`symphony.measure.stereo_blocks` reads them. So :meth:`measured`
    equals :func:`symphony.manifest.measure_audio` of the file to the last digit
    (tests/render/test_output_meter.py checks it for every depth and format).
    """

    def __init__(self, sample_rate: int, bits: int) -> None:
        from symphony.manifest import DecodedAudioMeter

        self._decoded = DecodedAudioMeter(sample_rate)
        self._scale = {16: 2.0 ** -15, 24: 2.0 ** -31, 32: None}[bits]
        self._buf = np.empty((2, READ_BLOCK))
        self._fill = 0

    def add(self, q: np.ndarray) -> None:
        """Add ``(n, 2)`` frames as written."""
        pos, n = 0, q.shape[0]
        while pos < n:
            take = min(READ_BLOCK - self._fill, n - pos)
            dst = self._buf[:, self._fill:self._fill + take]
            src = q[pos:pos + take].T
            if self._scale is None:
                dst[...] = src
            else:
                np.multiply(src, self._scale, out=dst)
            self._fill += take
            pos += take
            if self._fill == READ_BLOCK:
                self._flush()

    def _flush(self) -> None:
        if self._fill:
            x = self._buf if self._fill == READ_BLOCK else np.ascontiguousarray(self._buf[:, :self._fill])
            self._decoded.add(x)
            self._fill = 0

    def measured(self) -> dict:
        """The file's figures, in the form of :func:`symphony.manifest.measure_audio`."""
        self._flush()
        return self._decoded.figures()


class _AtomicFiles:
    """Temporary files and folders that replace their targets only on ``commit()``."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []  # (temporary, target)
        self._scratch: list[Path] = []

    def temp_for(self, target: Path, *, is_dir: bool = False) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{target.name}."
        if is_dir:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".part", dir=target.parent))
            os.chmod(tmp, 0o777 & ~_umask())
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=target.parent)
            os.close(fd)
            tmp = Path(name)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a render is an ordinary file
        self._pending.append((tmp, target))
        return tmp

    def scratch(self, directory: Path, suffix: str) -> Path:
        """A temporary file that is always deleted (pass-1 intermediates)."""
        fd, name = tempfile.mkstemp(prefix=".symphony-", suffix=suffix, dir=directory)
        os.close(fd)
        self._scratch.append(Path(name))
        return Path(name)

    def pending_temp(self, target: Path) -> Path:
        """The temporary that will replace ``target`` on ``commit()``."""
        for tmp, pending in self._pending:
            if pending == target:
                return tmp
        raise KeyError(target)

    def commit(self) -> None:
        for tmp, target in self._pending:
            if tmp.is_dir():
                old = None
                if target.exists():
                    old = target.with_name(f".{target.name}.old-{os.getpid()}")
                    os.replace(target, old)
                os.replace(tmp, target)
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        self._pending.clear()
        self.cleanup()

    def cleanup(self) -> None:
        for tmp, _ in self._pending:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        self._pending.clear()
        for path in self._scratch:
            path.unlink(missing_ok=True)
        self._scratch.clear()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _open_writer(path: Path, sample_rate: int, settings: RenderSettings, *, title: str,
                 comment: str, subtype: str | None = None, fmt: str | None = None) -> sf.SoundFile:
    f = sf.SoundFile(path, "w", samplerate=sample_rate, channels=2,
                     subtype=subtype or settings.subtype, format=(fmt or settings.format).upper())
    f.title = title
    f.software = f"symphony {__version__}"
    f.comment = comment
    return f


def render_score(score: Score, out_path: str | os.PathLike, settings: RenderSettings | None = None, *,
                 progress: ProgressFn | None = None, conductor_factory=Conductor) -> RenderSummary:
    """Render ``score`` to ``out_path`` (and stems next to it), atomically.

    Parameters
    ----------
    score : Score
    out_path : path
        Target audio file; stems go into ``<out_path stem>.stems/``.
    settings : RenderSettings
    progress : callable(stage, done, total), optional

    Returns
    -------
    RenderSummary

    Raises
    ------
    RenderError
        On I/O failure or a numerical fault; nothing is left behind.
    """
    settings = settings or RenderSettings()
    sample_rate = settings.sample_rate or score.sample_rate
    if sample_rate not in SUPPORTED_SAMPLE_RATES:
        raise ParameterError(f"sample rate must be one of {SUPPORTED_SAMPLE_RATES}, got {sample_rate}")
    seed = score.seed if settings.seed is None else settings.seed
    target_lufs = settings.lufs if settings.lufs is not None else score.master.lufs
    out_path = Path(out_path)
    started = time.perf_counter()
    conductor = conductor_factory(score, sample_rate=sample_rate, seed=seed)
    chash = content_hash(score, settings, sample_rate, seed)
    comment = f"score {Path(score.path).name} sha256:{score.source_sha256[:16]} seed {seed} render {chash}"
    files = _AtomicFiles()
    try:
        try:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            summary = _render(conductor, score, out_path, settings, sample_rate, seed, target_lufs,
                              files, comment, progress)
            if settings.click:  # committed with the audio
                summary.click = str(_write_click(conductor, out_path, summary.n_frames, settings, files, comment))
            if settings.manifest or settings.fingerprint:  # committed with the audio (symphony.manifest)
                from symphony.manifest import add_render_outputs

                summary.content_hash = chash
                add_render_outputs(files, score, out_path, settings, summary, sample_rate=sample_rate,
                                   seed=seed, target_lufs=target_lufs)
        except OSError as exc:
            raise RenderError(f"cannot write {out_path}: {exc.strerror or exc}; "
                              f"check that the folder exists, is writable and has free space") from exc
        except sf.SoundFileError as exc:  # libsndfile reports ENOSPC/EIO as "System error."
            raise RenderError(f"cannot write {out_path}: {_write_failure(out_path, exc)}; "
                              f"nothing was written and any previous render is intact") from exc
        _check_stop()
        files.commit()
    finally:
        try:
            files.cleanup()
        except KeyboardInterrupt:  # a second Ctrl-C/SIGTERM during cleanup: finish cleaning first
            files.cleanup()
            raise
    elapsed = time.perf_counter() - started
    summary.render_seconds = elapsed
    summary.realtime_factor = summary.duration_seconds / elapsed if elapsed > 0 else float("inf")
    summary.content_hash = chash
    return summary


def click_path(out_path: str | os.PathLike) -> Path:
    """``renders/NN-slug.click.wav`` next to ``renders/NN-slug.wav`` (any format: always WAV)."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + ".click.wav")


def _write_click(conductor: Conductor, out_path: Path, n_frames: int, settings: RenderSettings,
                 files: _AtomicFiles, comment: str) -> Path:
    """The click track (mono WAV, the mix's length and depth) into a pending temporary."""
    from symphony.clicktrack import click_blocks

    target = click_path(out_path)
    tmp = files.temp_for(target)
    subtype = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}[settings.bits]
    with sf.SoundFile(tmp, "w", samplerate=conductor.sample_rate, channels=1, subtype=subtype,
                      format="WAV") as f:
        f.title = f"{conductor.score.number:02d} {conductor.score.title} - click"
        f.software = f"symphony {__version__}"
        f.comment = comment
        for block in click_blocks(conductor.score, conductor.tempo_map, n_frames, READ_BLOCK):
            f.write(block[0])
    return target


def _write_failure(out_path: Path, exc: Exception) -> str:
    """Why libsndfile failed, in words: it does not keep errno, so look at the free space."""
    try:
        free = shutil.disk_usage(out_path.parent).free
    except OSError:
        free = None
    if free is not None and free < 1024 * 1024:
        return f"the disk is full ({free} bytes free in {out_path.parent}); free some space or choose " \
               f"another --out-dir"
    return f"{exc}".strip() or type(exc).__name__


def _render(conductor: Conductor, score: Score, out_path: Path, settings: RenderSettings,
            sample_rate: int, seed: int, target_lufs: float | None, files: _AtomicFiles,
            comment: str, progress: ProgressFn | None) -> RenderSummary:
    total = conductor.n_frames
    stem_names = _stem_file_names(conductor.orchestra.stem_names)  # section names are free text
    stems_dir = out_path.with_name(out_path.stem + ".stems")
    quantize = _Quantizer(settings.bits, np.random.default_rng([seed, 0x5EED]))
    title = f"{score.number:02d} {score.title}"
    master_gain = float(db_to_gain(score.master.gain_db))

    if target_lufs is None:
        # One pass: blocks -> master chain -> file.
        tmp = files.temp_for(out_path)
        stem_tmp_dir = files.temp_for(stems_dir, is_dir=True) if settings.stems else None
        chain = conductor.master_chain()
        meter = _OutputMeter(sample_rate, settings.bits)
        with _open_writer(tmp, sample_rate, settings, title=title, comment=comment) as out, \
                _StemWriters(stem_tmp_dir, stem_names, sample_rate, settings, title, comment) as stems:
            skip = chain.latency_frames
            for block in conductor.blocks(settings.block_size, stems=settings.stems):
                y = chain.process(block.mix)
                if skip:
                    cut = min(skip, y.shape[1])
                    y, skip = y[:, cut:], skip - cut
                _emit(y, out, meter, quantize)
                stems.write(block.stems, master_gain, quantize)
                _check_stop()
                if progress:
                    progress("render", block.start_frame + block.mix.shape[1], total)
            tail = chain.process(np.zeros((2, chain.latency_frames)))
            _emit(tail[:, skip:], out, meter, quantize)
        return _summary(out_path, sample_rate, total, meter, score.master.gain_db, stems, stems_dir)

    # Pass 1: pre-master mix (and stems) to scratch float files, measuring loudness.
    scratch_mix = files.scratch(out_path.parent, ".premaster.wav")
    scratch_stems = [files.scratch(out_path.parent, f".{name}.wav") for name in stem_names] \
        if settings.stems else []
    meter_pre = LoudnessMeter(sample_rate, channels=2, true_peak=False)  # only its loudness is used
    with sf.SoundFile(scratch_mix, "w", samplerate=sample_rate, channels=2, subtype="DOUBLE",
                      format="WAV") as pre:
        stem_files = [sf.SoundFile(p, "w", samplerate=sample_rate, channels=2, subtype="FLOAT",
                                   format="WAV") for p in scratch_stems]
        try:
            for block in conductor.blocks(settings.block_size, stems=settings.stems):
                x = block.mix * master_gain
                meter_pre.process(x)
                pre.write(x.T)
                for f, stem in zip(stem_files, block.stems if block.stems is not None else []):
                    f.write((stem * master_gain).T.astype(np.float32))
                _check_stop()
                if progress:
                    progress("render", block.start_frame + block.mix.shape[1], total)
        finally:
            for f in stem_files:
                f.close()
    measured = meter_pre.integrated_lufs()
    if not np.isfinite(measured):
        raise RenderError(f"{score.path}: the mix is silent, so it cannot be normalized to "
                          f"{target_lufs} LUFS; render without --lufs")
    gain_db = target_lufs - measured

    # Pass 2: gain -> limiter -> loudness, repeated until the output loudness is on target;
    # then one pass that writes the output with that gain.
    chain = conductor.master_chain()
    tried: list[tuple[float, float]] = []  # (gain dB, output LUFS) per measuring pass
    for attempt in range(MAX_LOUDNESS_PASSES):
        lufs = _limited_loudness(chain, scratch_mix, gain_db, sample_rate)
        tried.append((gain_db, lufs))
        if progress:
            progress(f"loudness pass {attempt + 1}", total, total)
        if abs(target_lufs - lufs) <= LUFS_TOLERANCE_LU:
            break
        gain_db = next_loudness_gain(tried, target_lufs)
    else:
        gain_db = min(tried, key=lambda t: abs(target_lufs - t[1]))[0]  # the closest one measured
    tmp = files.temp_for(out_path)
    meter = _OutputMeter(sample_rate, settings.bits)
    with _open_writer(tmp, sample_rate, settings, title=title, comment=comment) as out:
        for y in _limited(chain, scratch_mix, gain_db):
            _emit(y, out, meter, quantize)
    if progress:
        progress("write", total, total)
    norm = float(db_to_gain(gain_db))
    stem_paths = []
    if settings.stems:
        stem_tmp_dir = files.temp_for(stems_dir, is_dir=True)
        for name, src in zip(stem_names, scratch_stems):
            dst = stem_tmp_dir / f"{name}.{settings.format}"
            with sf.SoundFile(src, "r") as f_in, _open_writer(dst, sample_rate, settings,
                                                                title=f"{title} - {name}",
                                                                comment=comment) as f_out:
                for x in f_in.blocks(blocksize=READ_BLOCK, dtype="float64", always_2d=True):
                    f_out.write(quantize(np.ascontiguousarray(x.T) * norm))
            stem_paths.append(str(stems_dir / dst.name))
    summary = _summary(out_path, sample_rate, total, meter, gain_db + score.master.gain_db, None, stems_dir)
    summary.stems = stem_paths
    return summary


def _limited(chain, scratch_mix: Path, gain_db: float):
    """The pre-master mix through ``chain`` (reset first) at ``gain_db``, in time: the
    chain's latency cut from the start, its tail flushed at the end (blocks may be empty)."""
    chain.reset()
    chain.gain = float(db_to_gain(gain_db))
    skip = chain.latency_frames
    with sf.SoundFile(scratch_mix, "r") as pre:
        for x in pre.blocks(blocksize=READ_BLOCK, dtype="float64", always_2d=True):
            _check_stop()
            y = chain.process(np.ascontiguousarray(x.T))
            if skip:
                cut = min(skip, y.shape[1])
                y, skip = y[:, cut:], skip - cut
            yield y
    yield chain.process(np.zeros((2, chain.latency_frames)))[:, skip:]


def _limited_loudness(chain, scratch_mix: Path, gain_db: float, sample_rate: int) -> float:
    """Integrated loudness of the pre-master mix through ``chain`` at ``gain_db``."""
    meter = LoudnessMeter(sample_rate, channels=2, true_peak=False)
    for y in _limited(chain, scratch_mix, gain_db):
        if y.shape[1]:
            meter.process(np.ascontiguousarray(y))
    return meter.integrated_lufs()


def next_loudness_gain(tried: list[tuple[float, float]], target_lufs: float) -> float:
    """The gain (dB) to try next, from the ``(gain dB, output LUFS)`` pairs measured so far.

    One pair: a 1:1 step (the limiter is assumed idle). More: a secant step through the
    last two, its slope kept in [0.2, 1.2] LU per dB: the limiter only ever takes loudness
    away, so the output rises by at most about one LU per dB of gain, and by less the
    harder it works.
    """
    g1, l1 = tried[-1]
    slope = 1.0
    if len(tried) >= 2:
        g0, l0 = tried[-2]
        if abs(g1 - g0) > 1e-9 and np.isfinite(l1 - l0):
            slope = min(1.2, max(0.2, (l1 - l0) / (g1 - g0)))
    return g1 + (target_lufs - l1) / slope


def _emit(y: np.ndarray, out: sf.SoundFile, meter: _OutputMeter, quantize: _Quantizer) -> None:
    if y.shape[1]:
        q = quantize(y)
        out.write(q)
        meter.add(q)


class _StemWriters:
    """One file per stem in a temporary folder (single-pass renders)."""

    def __init__(self, directory: Path | None, names, sample_rate, settings, title, comment) -> None:
        self.files = []
        self.paths: list[Path] = []
        if directory is None:
            return
        for name in names:
            path = directory / f"{name}.{settings.format}"
            self.paths.append(path)
            self.files.append(_open_writer(path, sample_rate, settings,
                                           title=f"{title} - {name}", comment=comment))

    def write(self, stems: np.ndarray | None, gain: float, quantize: _Quantizer) -> None:
        if stems is None:
            return
        for f, stem in zip(self.files, stems):
            f.write(quantize(stem * gain))

    def __enter__(self) -> "_StemWriters":
        return self

    def __exit__(self, *exc) -> None:
        for f in self.files:
            f.close()


def _summary(out_path: Path, sample_rate: int, total: int, meter: _OutputMeter, gain_db: float,
             stems: _StemWriters | None, stems_dir: Path) -> RenderSummary:
    measured = meter.measured()
    return RenderSummary(
        path=str(out_path), sample_rate=sample_rate, n_frames=total,
        duration_seconds=total / sample_rate, peak_dbfs=measured["peak_dbfs"],
        true_peak_dbtp=measured["true_peak_dbtp"], integrated_lufs=measured["integrated_lufs"],
        gain_db=gain_db, render_seconds=0.0, realtime_factor=0.0, content_hash="",
        stems=[str(stems_dir / p.name) for p in stems.paths] if stems else [], measured=measured)


class _CallableModule(types.ModuleType):
    """``symphony.render`` is this module and also the Python API's ``render(score, ...)``.

    The package attribute ``symphony.render`` is this module as soon as anything imports it,
    so the module itself is made callable: ``symphony.render(score, seed=1)`` calls
    :func:`symphony.api.render`.
    """

    def __call__(self, score, **options):
        from symphony.api import render

        return render(score, **options)


sys.modules[__name__].__class__ = _CallableModule
