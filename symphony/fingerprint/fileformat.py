"""The ``.fp`` file: a versioned header in JSON, then the features, xz-compressed.

Layout (format version 1)::

    SYMPHONY-FINGERPRINT 1 <header bytes> <payload bytes>\n     first line, ASCII
    { ...header: pretty-printed UTF-8 JSON... }                 `head -c 4000 x.fp` shows it
    <payload: one xz stream (LZMA2), the arrays back to back>

The header holds ``source`` (path, kind, sample rate, frames, channels, duration,
``audio_sha256``), ``made_by`` (symphony version, command that regenerates the file),
``score`` (null, or path, sha256, seed, tempo changes and meters for bar:beat labels),
``analysis`` (rate, hop and the sha256 of every analysis parameter, :func:`analysis_settings`;
reading refuses other settings) and ``arrays``:
one entry per array with ``name``, ``dtype`` (little-endian), ``shape``, ``step`` (unit of one
integer step: dB, or seconds for onset times), ``offset`` and ``nbytes`` in the decompressed
payload. Grids (``bands``, ``chroma``, ``balance``) are stored column by column as first
differences along time; onset ``times`` as first differences; ``groups`` and ``strengths``
as they are.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symphony.errors import ParameterError
from symphony.fingerprint import features as F

FORMAT_NAME = "symphony-fingerprint"
FORMAT_VERSION = 1
MAGIC = b"SYMPHONY-FINGERPRINT"


def analysis_settings() -> dict[str, Any]:
    """The analysis parameters of this version (stored, and checked on comparison)."""
    return {
        "sample_rate": F.ANALYSIS_RATE, "hop": F.HOP, "window": F.WINDOW,
        "bands": f"{F.N_BANDS} ERB-rate bands {F.BAND_LOW_HZ:g}-{F.BAND_HIGH_HZ:g} Hz", "band_pairs": F.N_PAIRS,
        "chroma_range_hz": [F.CHROMA_LOW_HZ, F.CHROMA_HIGH_HZ], "floor_db": F.FLOOR_DB,
        "onset_hop": F.ONSET_HOP, "onset_window": F.ONSET_WINDOW,
        "onset_groups_hz": [list(g) for g in F.ONSET_GROUPS_HZ],
        "onset_threshold_db": F.ONSET_THRESHOLD_DB, "onset_floor_db": F.ONSET_FLOOR_DB,
        "onset_range_db": F.ONSET_RANGE_DB, "onset_latency_s": F.ONSET_LATENCY_S,
        "centroid_floor_db": F.CENTROID_FLOOR_DB,
        "steps": {"bands_db": F.BAND_STEP_DB, "chroma_db": F.CHROMA_STEP_DB, "balance_db": F.BALANCE_STEP_DB,
                  "timing_ms": F.TIMING_STEP_MS, "pitch_semitones": F.PITCH_STEP_SEMITONES,
                  "onset_time_s": F.ONSET_TIME_STEP_S, "onset_strength_db": F.ONSET_STRENGTH_STEP_DB},
    }


def analysis_header() -> dict[str, Any]:
    """What a file stores about the analysis: rate, hop and the sha256 (16 hex digits) of
    the canonical JSON of :func:`analysis_settings` (the full dict would double small files)."""
    canonical = json.dumps(analysis_settings(), sort_keys=True, separators=(",", ":")).encode()
    return {"sample_rate": F.ANALYSIS_RATE, "hop": F.HOP, "settings_sha256": hashlib.sha256(canonical).hexdigest()[:16]}


@dataclass
class Fingerprint:
    """Features of one piece of audio plus where it came from.

    ``bands`` (frames, 20), ``chroma`` (frames, 12), ``balance`` (frames, 4) in dB, ``timing``
    (frames, 10) in ms and ``pitch`` (frames, 10) in semitones, float64 on the ``features.HOP``
    grid (frame k centred at ``k * HOP / 22050`` s); see ``features``.
    """

    bands: np.ndarray
    chroma: np.ndarray
    balance: np.ndarray
    timing: np.ndarray
    pitch: np.ndarray
    onsets: F.Onsets
    source: dict[str, Any] = field(default_factory=dict)
    score: dict[str, Any] | None = None
    made_by: dict[str, Any] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.bands.shape[0])

    @property
    def duration_seconds(self) -> float:
        return float(self.source.get("duration_seconds", self.n_frames * F.HOP / F.ANALYSIS_RATE))

    @property
    def frame_seconds(self) -> float:
        return F.HOP / F.ANALYSIS_RATE


def _smallest_int(values: np.ndarray) -> str:
    for dtype in ("int8", "int16", "int32", "int64"):
        info = np.iinfo(dtype)
        if not values.size or (values.min() >= info.min and values.max() <= info.max):
            return dtype
    raise AssertionError("unreachable")


def GRIDS(fp: Fingerprint) -> tuple[tuple[str, np.ndarray, float], ...]:
    return (("bands", fp.bands, F.BAND_STEP_DB), ("chroma", fp.chroma, F.CHROMA_STEP_DB),
            ("balance", fp.balance, F.BALANCE_STEP_DB), ("timing", fp.timing, F.TIMING_STEP_MS),
            ("pitch", fp.pitch, F.PITCH_STEP_SEMITONES))


def _arrays(fp: Fingerprint) -> list[tuple[str, np.ndarray, float, str]]:
    """(name, integer array, step, encoding) in payload order (the encoding is documented in
    the module docstring, not stored)."""
    out = []
    for name, values, step in GRIDS(fp):
        units = np.round(values / step).astype(np.int64)
        deltas = np.diff(units, axis=0, prepend=np.zeros((1, units.shape[1]), dtype=np.int64))
        out.append((name, np.ascontiguousarray(deltas.T), step, "time-differences, column-major"))
    on = fp.onsets
    times = np.round(on.times_s / F.ONSET_TIME_STEP_S).astype(np.int64)
    out.append(("onset_times", np.diff(times, prepend=0), F.ONSET_TIME_STEP_S, "differences"))
    out.append(("onset_groups", on.groups.astype(np.int64), 1.0, "band group index"))
    out.append(("onset_strengths", np.round(on.strengths_db / F.ONSET_STRENGTH_STEP_DB).astype(np.int64),
                F.ONSET_STRENGTH_STEP_DB, "values"))
    return out


def to_bytes(fp: Fingerprint) -> bytes:
    """The ``.fp`` file content of ``fp`` (see the module docstring)."""
    entries, blobs, offset = [], [], 0
    for name, values, step, encoding in _arrays(fp):
        dtype = _smallest_int(values)
        raw = values.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
        entries.append({"name": name, "dtype": dtype, "shape": list(values.shape), "step": step,
                        "offset": offset, "nbytes": len(raw)})
        blobs.append(raw)
        offset += len(raw)
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "source": fp.source, "made_by": fp.made_by,
              "score": fp.score, "analysis": analysis_header(), "arrays": entries}
    # one top-level key per line: readable with `head`, without a line per list item
    head = ("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in header.items())
            + "\n}\n").encode("utf-8")
    payload = lzma.compress(b"".join(blobs), format=lzma.FORMAT_XZ, preset=9)
    first = f"{MAGIC.decode()} {FORMAT_VERSION} {len(head)} {len(payload)}\n".encode("ascii")
    return first + head + payload


def from_bytes(data: bytes, origin: str = "<fingerprint>") -> Fingerprint:
    """Inverse of :func:`to_bytes`; raises ``ParameterError`` on a wrong format or version."""
    line, _, rest = data.partition(b"\n")
    parts = line.split(b" ")
    if not line.startswith(MAGIC) or len(parts) != 4:
        raise ParameterError(f"{origin}: not a symphony fingerprint (it must start with {MAGIC.decode()!r})")
    try:
        version, n_head, n_payload = (int(p) for p in parts[1:])
    except ValueError:
        raise ParameterError(f"{origin}: malformed fingerprint header line {line[:80]!r}") from None
    if version != FORMAT_VERSION:
        raise ParameterError(f"{origin}: fingerprint format version {version}, this symphony reads version "
                             f"{FORMAT_VERSION}; regenerate it with `symphony fingerprint`")
    if len(rest) != n_head + n_payload:
        raise ParameterError(f"{origin}: truncated or padded fingerprint ({len(rest)} bytes after the first "
                             f"line, expected {n_head + n_payload})")
    try:
        header = json.loads(rest[:n_head].decode("utf-8"))
        payload = lzma.decompress(rest[n_head:], format=lzma.FORMAT_XZ)
    except (UnicodeDecodeError, json.JSONDecodeError, lzma.LZMAError) as exc:
        raise ParameterError(f"{origin}: malformed fingerprint: {exc}") from None
    if header.get("analysis") != analysis_header():
        raise ParameterError(f"{origin}: made with other analysis settings than this symphony uses; "
                             f"regenerate it with `symphony fingerprint`")
    try:
        arrays = {}
        for e in header["arrays"]:
            raw = payload[int(e["offset"]):int(e["offset"]) + int(e["nbytes"])]
            arrays[e["name"]] = (np.frombuffer(raw, dtype=np.dtype(e["dtype"]).newbyteorder("<"))
                                 .astype(np.int64).reshape(e["shape"]), float(e["step"]))
        grids = {}
        for name in ("bands", "chroma", "balance", "timing", "pitch"):
            deltas, step = arrays[name]
            grids[name] = np.cumsum(deltas.T, axis=0) * step
        times, t_step = arrays["onset_times"]
        strengths, s_step = arrays["onset_strengths"]
        onsets = F.Onsets(times_s=np.cumsum(times) * t_step, groups=arrays["onset_groups"][0].astype(np.int8),
                          strengths_db=strengths * s_step)
        fp = Fingerprint(**grids, onsets=onsets,
                         source=dict(header.get("source") or {}), score=header.get("score"),
                         made_by=dict(header.get("made_by") or {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(f"{origin}: malformed fingerprint: {exc}") from None
    if len({g.shape[0] for g in (fp.bands, fp.chroma, fp.balance, fp.timing, fp.pitch)}) != 1:
        raise ParameterError(f"{origin}: malformed fingerprint: feature grids differ in length")
    return fp


def header_of(path: str | os.PathLike) -> dict[str, Any]:
    """Only the JSON header of a ``.fp`` file (cheap: for listings and golden metadata)."""
    data = Path(path).read_bytes()
    line, _, rest = data.partition(b"\n")
    n_head = int(line.split(b" ")[2])
    return json.loads(rest[:n_head].decode("utf-8"))


def write_fingerprint(fp: Fingerprint, path: str | os.PathLike) -> Path:
    """Write ``fp`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(to_bytes(fp))
    os.replace(tmp, path)
    return path


def read_fingerprint(path: str | os.PathLike) -> Fingerprint:
    """Read a ``.fp`` file.

    Raises
    ------
    ParameterError
        Missing file, another format or version, malformed content.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParameterError(f"{path}: no such fingerprint file") from None
    except OSError as exc:
        raise ParameterError(f"{path}: cannot read fingerprint: {exc.strerror or exc}") from None
    return from_bytes(data, str(path))
