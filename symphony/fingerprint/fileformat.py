"""The ``.fp`` file: a versioned header in JSON, then the features, LZMA2-compressed.

Layout (format version 2)::

    SYMPHONY-FINGERPRINT 2 <header bytes> <payload bytes>\n     first line, ASCII
    { ...header: pretty-printed UTF-8 JSON... }                 `head -c 4000 x.fp` shows it
    <payload: one raw LZMA2 stream per array, back to back>

The header holds ``source`` (path, kind, sample rate, frames, channels, duration,
``audio_sha256``), ``made_by`` (symphony version, command that regenerates the file),
``score`` (null, or path, sha256, seed, tempo changes and meters for bar:beat labels),
``analysis`` (rate, hop and the sha256 of every analysis parameter, :func:`analysis_settings`;
reading refuses other settings) and ``arrays``: one entry per array with ``name``, ``dtype``
(little-endian), ``shape``, ``step`` (unit of one integer step: dB, ms, semitones or seconds),
``encoding`` (:data:`GRID_ENCODINGS`), and ``offset`` and ``nbytes`` of its compressed stream
in the payload. Integers wider than a byte are stored byte plane by byte plane
(:func:`_pack`). Version 1 files are refused with a message that says to regenerate them.
See docs/fingerprints.md ("File format") for sizes and the reasons of each encoding.
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
FORMAT_VERSION = 2
MAGIC = b"SYMPHONY-FINGERPRINT"


def analysis_settings() -> dict[str, Any]:
    """The analysis parameters of this version (stored, and checked on comparison)."""
    return {
        "sample_rate": F.ANALYSIS_RATE, "hop": F.HOP, "window": F.WINDOW,
        "bands": f"{F.N_BANDS} ERB-rate bands {F.BAND_LOW_HZ:g}-{F.BAND_HIGH_HZ:g} Hz",
        "centroid_width_bands": F.CENTROID_WIDTH, "chroma_range_db": F.CHROMA_RANGE_DB,
        "chroma_active_db": F.CHROMA_ACTIVE_DB, "centroid_range_db": F.CENTROID_RANGE_DB,
        "chroma_range_hz": [F.CHROMA_LOW_HZ, F.CHROMA_HIGH_HZ], "floor_db": F.FLOOR_DB,
        "onset_hop": F.ONSET_HOP, "onset_window": F.ONSET_WINDOW,
        "onset_groups_hz": [list(g) for g in F.ONSET_GROUPS_HZ],
        "onset_threshold_db": F.ONSET_THRESHOLD_DB, "onset_floor_db": F.ONSET_FLOOR_DB,
        "onset_range_db": F.ONSET_RANGE_DB, "onset_latency_s": F.ONSET_LATENCY_S,
        "centroid_floor_db": F.CENTROID_FLOOR_DB, "onset_transform": "float32",
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


#: How each grid is stored (integers of its step, transposed: one column after another).
#: Band levels are predicted from their neighbours (``"median-prediction"``, the median edge
#: detector of LOCO-I / JPEG-LS, Weinberger et al. 2000, eq. 2: the median of the level one
#: frame earlier, one band lower, and their sum minus the value diagonally before both) and
#: only the errors are stored; the balance changes slowly (``"time-differences"``); chroma
#: (5 levels) and the centroids (noise-like from frame to frame) are stored as ``"values"``.
GRID_ENCODINGS = {"bands": "median-prediction", "chroma": "values",
                  "balance": "time-differences", "timing": "values", "pitch": "values"}
#: LZMA2 without literal context bits: the payload is small integers, not text.
LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 1 << 20,
                 "lc": 0, "lp": 0, "pb": 0}]
#: Onset strength in the low 6 bits of the stored onset byte (dB steps, clipped), band group above.
ONSET_STRENGTH_BITS = 6


def _median_prediction(units: np.ndarray) -> np.ndarray:
    """LOCO-I prediction of each value from its decoded neighbours (0 outside the grid)."""
    if units.size == 0:
        return np.zeros_like(units)
    north = np.vstack([np.zeros((1, units.shape[1]), dtype=np.int64), units[:-1]])
    west = np.hstack([np.zeros((units.shape[0], 1), dtype=np.int64), units[:, :-1]])
    northwest = np.vstack([np.zeros((1, units.shape[1]), dtype=np.int64), west[:-1]])
    return np.median(np.stack([north, west, north + west - northwest]), axis=0).astype(np.int64)


def _median_unpredict(errors: np.ndarray) -> np.ndarray:
    """Inverse of storing ``units - _median_prediction(units)``: decode value by value."""
    n, m = errors.shape
    rows = errors.tolist()
    out = [[0] * m for _ in range(n)]
    previous = [0] * m
    for t in range(n):
        row, err = out[t], rows[t]
        west = northwest = 0
        for b in range(m):
            north = previous[b]
            value = err[b] + sorted((north, west, north + west - northwest))[1]
            row[b] = value
            west, northwest = value, north
        previous = row
    return np.array(out, dtype=np.int64).reshape(n, m)


def _encode(units: np.ndarray, encoding: str) -> np.ndarray:
    """(frames, columns) integers -> the stored (columns, frames) integers."""
    if encoding == "time-differences":
        units = np.diff(units, axis=0, prepend=np.zeros((1, units.shape[1]), dtype=np.int64))
    elif encoding == "median-prediction":
        units = units - _median_prediction(units)
    return np.ascontiguousarray(units.T)


def _decode(stored: np.ndarray, encoding: str) -> np.ndarray:
    """Inverse of :func:`_encode`."""
    units = stored.T
    if encoding == "time-differences":
        return np.cumsum(units, axis=0)
    if encoding == "median-prediction":
        return _median_unpredict(units)
    if encoding != "values":
        raise ValueError(f"unknown encoding {encoding!r}")
    return units


def _arrays(fp: Fingerprint) -> list[tuple[str, np.ndarray, float, str]]:
    """(name, stored integer array, step, encoding) in payload order."""
    out = []
    for name, values, step in GRIDS(fp):
        units = np.round(values / step).astype(np.int64)
        out.append((name, _encode(units, GRID_ENCODINGS[name]), step, GRID_ENCODINGS[name]))
    on = fp.onsets
    times = np.round(on.times_s / F.ONSET_TIME_STEP_S).astype(np.int64)
    out.append(("onset_times", np.diff(times, prepend=0), F.ONSET_TIME_STEP_S, "differences"))
    strength = np.clip(np.round(on.strengths_db / F.ONSET_STRENGTH_STEP_DB), 0, 2 ** ONSET_STRENGTH_BITS - 1)
    out.append(("onset_group_strength", (on.groups.astype(np.int64) << ONSET_STRENGTH_BITS) + strength.astype(np.int64),
                F.ONSET_STRENGTH_STEP_DB, f"group * {2 ** ONSET_STRENGTH_BITS} + strength"))
    return out


def _pack(values: np.ndarray) -> tuple[str, bytes]:
    """Integers -> (dtype, bytes): the smallest little-endian integer type, and for types
    wider than a byte the byte planes one after another (all low bytes, then the next ...):
    the high planes of small numbers are nearly constant and compress to almost nothing."""
    dtype = _smallest_int(values)
    raw = np.ascontiguousarray(values.astype(np.dtype(dtype).newbyteorder("<")).ravel())
    planes = raw.view(np.uint8).reshape(-1, raw.dtype.itemsize).T
    return dtype, np.ascontiguousarray(planes).tobytes()


def _unpack(data: bytes, dtype: str, shape: list[int]) -> np.ndarray:
    """Inverse of :func:`_pack`."""
    itemsize = np.dtype(dtype).itemsize
    planes = np.frombuffer(data, dtype=np.uint8).reshape(itemsize, -1)
    values = np.ascontiguousarray(planes.T).view(np.dtype(dtype).newbyteorder("<"))
    return values.astype(np.int64).reshape(shape)


def to_bytes(fp: Fingerprint) -> bytes:
    """The ``.fp`` file content of ``fp`` (see the module docstring)."""
    entries, blobs, offset = [], [], 0
    for name, values, step, encoding in _arrays(fp):
        dtype, raw = _pack(values)
        blob = lzma.compress(raw, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS)
        entries.append({"name": name, "dtype": dtype, "shape": list(values.shape), "step": step,
                        "encoding": encoding, "offset": offset, "nbytes": len(blob)})
        blobs.append(blob)
        offset += len(blob)
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "source": fp.source, "made_by": fp.made_by,
              "score": fp.score, "analysis": analysis_header(), "arrays": entries}
    # one top-level key per line: readable with `head`, without a line per list item
    head = ("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in header.items())
            + "\n}\n").encode("utf-8")
    payload = b"".join(blobs)
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
        older = "an older" if version < FORMAT_VERSION else "a newer"
        raise ParameterError(
            f"{origin}: fingerprint format version {version} ({older} symphony made it); this symphony reads "
            f"version {FORMAT_VERSION} only. Regenerate it with `symphony fingerprint` (golden fingerprints: "
            f"`make goldens`)")
    if len(rest) != n_head + n_payload:
        raise ParameterError(f"{origin}: truncated or padded fingerprint ({len(rest)} bytes after the first "
                             f"line, expected {n_head + n_payload})")
    try:
        header = json.loads(rest[:n_head].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{origin}: malformed fingerprint: {exc}") from None
    if header.get("analysis") != analysis_header():
        raise ParameterError(f"{origin}: made with other analysis settings than this symphony uses; "
                             f"regenerate it with `symphony fingerprint`")
    payload = rest[n_head:]
    try:
        arrays = {}
        for e in header["arrays"]:
            blob = payload[int(e["offset"]):int(e["offset"]) + int(e["nbytes"])]
            raw = lzma.decompress(blob, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS)
            arrays[e["name"]] = (_unpack(raw, e["dtype"], e["shape"]), float(e["step"]), e["encoding"])
        grids = {}
        for name in GRID_ENCODINGS:
            stored, step, encoding = arrays[name]
            grids[name] = _decode(stored, encoding) * step
        times, t_step, _ = arrays["onset_times"]
        packed, s_step, _ = arrays["onset_group_strength"]
        onsets = F.Onsets(times_s=np.cumsum(times) * t_step, groups=(packed >> ONSET_STRENGTH_BITS).astype(np.int8),
                          strengths_db=(packed & (2 ** ONSET_STRENGTH_BITS - 1)) * s_step)
        fp = Fingerprint(**grids, onsets=onsets,
                         source=dict(header.get("source") or {}), score=header.get("score"),
                         made_by=dict(header.get("made_by") or {}))
    except (KeyError, TypeError, ValueError, lzma.LZMAError) as exc:
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
