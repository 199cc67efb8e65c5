"""Making fingerprints: from arrays, audio files (soundfile) and scores (rendered first)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from symphony import __version__
from symphony.errors import ParameterError
from symphony.fingerprint import features as F
from symphony.fingerprint.fileformat import Fingerprint, read_fingerprint
from symphony.fingerprint.timegrid import score_timing

#: Rate at which scores are rendered for fingerprints (and goldens).
RENDER_RATE = 22050
AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg")


def audio_sha256(audio: np.ndarray) -> str:
    """sha256 of the samples as little-endian float32, channel after channel (reported, never
    decisive)."""
    samples = np.ascontiguousarray(audio, dtype="<f4")
    return hashlib.sha256(samples).hexdigest()  # the buffer itself: no copy


def fingerprint_audio(audio: np.ndarray, sample_rate: int, *, source: dict[str, Any] | None = None,
                      score: dict[str, Any] | None = None, command: str = "") -> Fingerprint:
    """Fingerprint of ``(channels, n)`` audio at ``sample_rate``.

    Parameters
    ----------
    audio : ndarray, shape (channels, n) or (n,)
    sample_rate : int > 0
    source, score : dict, optional
        Stored metadata; ``score`` (from :func:`score_timing` plus path/sha256/seed) enables
        ``bar:beat`` labels.

    Returns
    -------
    Fingerprint

    Raises
    ------
    ParameterError
        On a wrong shape, a non-positive rate or non-finite samples.

    Examples
    --------
    >>> fp = fingerprint_audio(np.zeros((2, 22050)), 22050)
    >>> fp.bands.shape
    (3, 20)
    """
    x = np.asarray(audio)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)  # float32 stems stay float32: features compute in float64 per chunk
    if x.ndim == 1:
        x = x[np.newaxis]
    y = F.to_analysis_rate(x, sample_rate)
    meta = {"kind": "audio", "sample_rate": int(sample_rate), "n_frames": int(x.shape[-1]),
            "channels": int(x.shape[0]), "duration_seconds": x.shape[-1] / float(sample_rate),
            "audio_sha256": audio_sha256(x)}
    meta.update(source or {})
    g = F.grid_features(y)
    return Fingerprint(bands=g.bands, chroma=g.chroma, balance=g.balance, timing=g.timing, pitch=g.pitch,
                       onsets=F.onset_features(y), source=meta, score=score,
                       made_by={"symphony": __version__, "command": command})


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """``(channels, n)`` float64 and the sample rate of an audio file.

    Raises
    ------
    ParameterError
        Missing or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: no such audio file")
    try:
        data, rate = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise ParameterError(f"{path}: cannot read audio: {exc}") from None
    return np.ascontiguousarray(data.T), int(rate)


def fingerprint_file(path: str | os.PathLike, *, command: str = "", score=None) -> Fingerprint:
    """Fingerprint of an audio file (``score``, a Score, adds bar labels)."""
    audio, rate = read_audio(path)
    return fingerprint_audio(audio, rate, source={"path": Path(path).as_posix()},
                             score=score_info(score) if score is not None else None, command=command)


def score_info(score, *, start_seconds: float = 0.0) -> dict[str, Any]:
    """What a fingerprint stores about its score: path, sha256, seed and timing."""
    info = {"path": Path(score.path).as_posix(), "sha256": score.source_sha256, "seed": score.seed}
    info.update(score_timing(score))
    return info


def unnormalized(score):
    """``score`` without a loudness target: a local change stays local in the fingerprint."""
    return dataclasses.replace(score, master=dataclasses.replace(score.master, lufs=None))


def render_score_audio(score, *, sample_rate: int = RENDER_RATE, stems: bool = False,
                       start_frame: int = 0, end_frame: int | None = None, block_size: int = 4096
                       ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render in memory: the mastered mix ``(2, n)`` and, if asked, the stems by name.

    The mix goes through the master chain exactly as ``Conductor.render`` does (latency
    removed, no loudness normalization); stems are the pre-limiter section and bus outputs
    times the master gain, as ``symphony render --stems`` writes them.
    """
    from symphony.conductor import Conductor
    from symphony.dsp.base import db_to_gain

    conductor = Conductor(score, sample_rate=sample_rate)
    chain = conductor.master_chain()
    lat = chain.latency_frames
    gain = float(db_to_gain(score.master.gain_db))
    end = conductor.n_frames if end_frame is None else int(end_frame)
    n_total = max(end - int(start_frame), 0)
    mix_parts = []
    # whole chapters with 16 stems: one preallocated float32 buffer (no copies of the list)
    stacked = np.zeros((len(conductor.orchestra.stem_names) if stems else 0, 2, n_total), dtype=np.float32)
    at = 0
    for block in conductor.blocks(block_size, start_frame=start_frame, end_frame=end_frame, stems=stems):
        mix_parts.append(chain.process(block.mix))
        if stems:
            n = block.stems.shape[-1]
            np.multiply(block.stems, gain, out=stacked[:, :, at:at + n], casting="same_kind")
        at += block.mix.shape[-1]
    mix_parts.append(chain.process(np.zeros((2, lat))))
    mix = np.concatenate(mix_parts, axis=1)[:, lat:]
    named: dict[str, np.ndarray] = {}
    if stems:
        named = {name: stacked[k, :, :at] for k, name in enumerate(conductor.orchestra.stem_names)}
    return mix, named


#: Silence between the windows of a windowed score fingerprint (keeps their sounds apart).
WINDOW_GAP_SECONDS = 1.0


def fingerprint_score(score, *, stems: bool = False, sample_rate: int = RENDER_RATE, command: str = "",
                      start_frame: int = 0, end_frame: int | None = None,
                      windows: list[tuple[int, int]] | None = None
                      ) -> tuple[Fingerprint, dict[str, Fingerprint]]:
    """Render ``score`` (without loudness normalization) and fingerprint the mix (and stems).

    Parameters
    ----------
    score : Score
    stems : bool
        Also fingerprint every section and bus stem.
    start_frame, end_frame : int
        The part to render (default: all of it, tail included).
    windows : list of (start_frame, end_frame), optional
        Render these parts instead (each from a fresh orchestra), joined with
        ``WINDOW_GAP_SECONDS`` of silence; the fingerprint's ``source["segments"]`` maps its
        time back to the score's (``[file_start_s, score_start_s, seconds]``).

    Returns
    -------
    (Fingerprint, dict of stem name -> Fingerprint)
    """
    score = unnormalized(score)
    windows = windows or [(start_frame, end_frame)]
    gap = int(round(WINDOW_GAP_SECONDS * sample_rate))
    mixes, stem_parts, segments, at = [], {}, [], 0
    for k, (w0, w1) in enumerate(windows):
        mix, stem_audio = render_score_audio(score, sample_rate=sample_rate, stems=stems, start_frame=w0,
                                             end_frame=w1)
        if k:
            mixes.append(np.zeros((2, gap)))
            for name in stem_audio:
                stem_parts.setdefault(name, []).append(np.zeros((2, gap), dtype=np.float32))
            at += gap
        segments.append([at / sample_rate, w0 / sample_rate, mix.shape[1] / sample_rate])
        mixes.append(mix)
        for name, x in stem_audio.items():
            stem_parts.setdefault(name, []).append(x)
        at += mix.shape[1]
    info = score_info(score)
    src = {"kind": "score", "path": Path(score.path).as_posix(), "start_seconds": windows[0][0] / sample_rate}
    if len(windows) > 1:
        src["segments"] = segments
    def joined(parts: list[np.ndarray]) -> np.ndarray:
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)  # no copy of a whole chapter

    fp = fingerprint_audio(joined(mixes), sample_rate, source=src, score=info, command=command)
    stem_fps = {name: fingerprint_audio(joined(parts), sample_rate, source=dict(src, stem=name),
                                        score=info, command=command)
                for name, parts in stem_parts.items()}
    return fp, stem_fps


def load_fingerprint(path: str | os.PathLike, *, score=None, command: str = "") -> Fingerprint:
    """A ``.fp`` file as is; an audio file fingerprinted; a ``.toml`` score rendered first."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".fp":
        return read_fingerprint(path)
    if suffix == ".toml":
        from symphony.catalog import load

        return fingerprint_score(load(path), command=command)[0]
    if suffix in AUDIO_SUFFIXES:
        return fingerprint_file(path, score=score, command=command)
    raise ParameterError(f"{path}: expected a .fp fingerprint, an audio file ({', '.join(AUDIO_SUFFIXES)}) "
                         f"or a .toml score, got '{suffix or 'no suffix'}'")


def stem_files(directory: str | os.PathLike) -> dict[str, Path]:
    """Stem name -> file (``.fp`` preferred over audio) in a stems folder."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ParameterError(f"{directory}: not a folder of stems (expected e.g. renders/x.stems/)")
    found: dict[str, Path] = {}
    for p in sorted(directory.iterdir()):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.stem not in found:
            found[p.stem] = p
        elif p.suffix.lower() == ".fp":
            found[p.stem] = p
    if not found:
        raise ParameterError(f"{directory}: holds no .fp or audio files")
    return found


def write_temporary_wav(audio: np.ndarray, sample_rate: int, directory: str | os.PathLike) -> Path:
    """Float32 WAV in ``directory`` (for tools such as fpcalc); the caller deletes it."""
    fd, name = tempfile.mkstemp(suffix=".wav", dir=directory)
    os.close(fd)
    sf.write(name, np.asarray(audio).T.astype(np.float32), int(sample_rate), subtype="FLOAT")
    return Path(name)

