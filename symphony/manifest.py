"""Render manifests: a small JSON next to every render that says exactly what produced it.

``renders/<name>.wav`` gets ``renders/<name>.manifest.json`` (see docs/manifest.md): the
score path and the sha256 of its bytes (and of every other file the score reads), the seed,
the engine versions, the render settings, and what the file holds (duration, sample peak,
true peak, integrated loudness, loudness range, the sha256 of the file's bytes). The
manifest is written to a temporary next to the audio and renamed into place with it
(:class:`symphony.render._AtomicFiles`), so a failed render leaves neither.

The numbers are measured on the written file with the same meter as ``symphony measure``
(ITU-R BS.1770-4 loudness and true peak, EBU Tech 3342 loudness range), so the manifest
describes the file, not the float mix before quantization.

:func:`check_manifest` re-renders a score into a temporary folder and says whether the
result matches a manifest: bit for bit (sha256), or else the same music per
:func:`symphony.fingerprint.compare`.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symphony import __version__
from symphony.errors import ParameterError

#: Bumped when a field changes meaning or disappears (adding fields keeps the version).
MANIFEST_VERSION = 1
#: ``x.wav`` -> ``x.manifest.json`` (a bare ``x.json`` would be ambiguous next to other JSON).
MANIFEST_SUFFIX = ".manifest.json"
#: ``x.wav`` -> ``x.fp`` with ``--fingerprint``.
FINGERPRINT_SUFFIX = ".fp"
#: Keys a manifest must have to be checked.
REQUIRED_KEYS = ("manifest_version", "kind", "audio", "score", "seed", "settings", "result")
_HASH_CHUNK = 1 << 20


def manifest_path(audio_path: str | os.PathLike) -> Path:
    """The manifest of an audio file: same folder, same stem, ``.manifest.json``.

    Examples
    --------
    >>> manifest_path("renders/01-masters.wav").as_posix()
    'renders/01-masters.manifest.json'
    """
    p = Path(audio_path)
    return p.with_name(p.stem + MANIFEST_SUFFIX)


def fingerprint_path(audio_path: str | os.PathLike) -> Path:
    """``renders/x.wav`` -> ``renders/x.fp`` (written with ``symphony render --fingerprint``).

    Examples
    --------
    >>> fingerprint_path("renders/01-masters.flac").name
    '01-masters.fp'
    """
    p = Path(audio_path)
    return p.with_name(p.stem + FINGERPRINT_SUFFIX)


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def engine_versions() -> dict[str, str | None]:
    """Versions of what computes the samples: symphony, numpy, scipy, numba, Python.

    Read from the installed package metadata, so nothing heavy is imported for it.
    """
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"symphony": __version__, "numpy": version("numpy"), "scipy": version("scipy"),
            "numba": version("numba"), "soundfile": version("soundfile"),
            "python": platform.python_version()}


def score_inputs(score) -> list[dict[str, Any]]:
    """Every file the score's audio depends on, with its sha256: the score itself first.

    Hook for scores that read other files (e.g. MIDI): a ``Score`` with an ``input_files``
    attribute (paths) gets each of them listed as ``role: "input"``; a file that cannot be
    read is listed with ``sha256: null``.
    """
    items = [{"role": "score", "path": Path(score.path).as_posix(), "sha256": score.source_sha256}]
    for p in getattr(score, "input_files", None) or ():
        path = Path(p)
        try:
            digest = file_sha256(path)
        except OSError:
            digest = None
        items.append({"role": "input", "path": path.as_posix(), "sha256": digest})
    return items


class DecodedAudioMeter:
    """Loudness meter and sha256 of decoded samples, fed ``(2, n)`` float64 blocks in file order.

    The one measurement behind :func:`measure_audio` (reading a file) and
    ``symphony.render._OutputMeter`` (metering a file while it is written): fed the same
    blocks, both give the same figures to the last digit.
    """

    def __init__(self, sample_rate: int) -> None:
        from symphony.dsp.loudness import LoudnessMeter

        self.sample_rate = int(sample_rate)
        self.meter = LoudnessMeter(self.sample_rate, channels=2)
        self._sha = hashlib.sha256()
        self.n_frames = 0

    def add(self, x: np.ndarray) -> None:
        """Meter a C-contiguous ``(2, n)`` block and hash it as interleaved little-endian float64."""
        self.meter.process(x)
        self._sha.update(np.ascontiguousarray(x.T, dtype="<f8"))
        self.n_frames += x.shape[1]

    def figures(self) -> dict[str, Any]:
        """:func:`measure_audio`'s dict for what was added (flushes the true-peak filter)."""
        m = self.meter
        m.flush_true_peak()
        return {"sample_rate": self.sample_rate, "n_frames": int(self.n_frames),
                "duration_seconds": self.n_frames / self.sample_rate, "peak_dbfs": m.sample_peak_dbfs(),
                "true_peak_dbtp": m.true_peak_dbtp(), "integrated_lufs": m.integrated_lufs(),
                "loudness_range_lu": m.loudness_range_lu(), "samples_sha256": self._sha.hexdigest()}


def measure_audio(path: str | os.PathLike) -> dict[str, Any]:
    """Duration, sample peak, true peak, integrated loudness and loudness range of a file.

    The meter and reader of ``symphony measure`` (:mod:`symphony.measure`), so the two agree
    to the last digit. Non-finite values (a silent file's -inf LUFS) are stored as null.
    Also ``samples_sha256``: sha256 of the decoded samples (interleaved little-endian
    float64, exact for 16/24-bit PCM and 32-bit float), which unlike the file's sha256 does
    not change with the metadata (the file's comment names the score's hash).
    """
    from symphony.measure import audio_info, stereo_blocks

    info = audio_info(path)
    meter = DecodedAudioMeter(info.samplerate)
    for x in stereo_blocks(path):
        meter.add(x)
    figures = meter.figures()
    figures["n_frames"] = int(info.frames)  # as the header says (equal to the frames read)
    figures["duration_seconds"] = info.frames / info.samplerate
    return figures


def _now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _finite(value: Any) -> Any:
    """JSON has no infinities: non-finite floats become None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(manifest: dict[str, Any]) -> str:
    """The manifest as indented JSON text (strict: no NaN or Infinity)."""
    return json.dumps(_finite(manifest), indent=2, allow_nan=False) + "\n"


def _audio_entry(tmp: Path, target: Path, subtype: str, samples_sha256: str) -> dict[str, Any]:
    return {"file": target.name, "sha256": file_sha256(tmp), "samples_sha256": samples_sha256,
            "bytes": tmp.stat().st_size, "format": target.suffix.lstrip(".").lower(), "subtype": subtype}


def render_manifest(score, audio_tmp: Path, out_path: Path, settings, summary, *, sample_rate: int,
                    seed: int, target_lufs: float | None, fingerprint_name: str | None = None,
                    stems: list[tuple[Path, Path]] | None = None,
                    click: tuple[Path, Path] | None = None) -> dict[str, Any]:
    """The manifest of one render (the audio as written to ``audio_tmp``, named ``out_path``).

    The figures come from ``summary.measured`` (taken while the render wrote the file) or,
    without them, from reading ``audio_tmp``; both give the same digits.

    ``stems`` pairs (file as written, final path) for ``--stems``; ``click`` the same pair for
    the click track of ``--click``.
    """
    options = dataclasses.asdict(settings)
    # the render measured the file while writing it, as a reader decodes it (render._OutputMeter)
    measured = dict(getattr(summary, "measured", None) or measure_audio(audio_tmp))
    samples_sha256 = measured.pop("samples_sha256")
    return {
        "manifest_version": MANIFEST_VERSION,
        "kind": "render",
        "created_utc": _now_utc(),
        "audio": _audio_entry(audio_tmp, out_path, settings.subtype, samples_sha256),
        "score": {"path": Path(score.path).as_posix(), "sha256": score.source_sha256, "title": score.title,
                  "number": score.number},
        "inputs": score_inputs(score),
        "seed": int(seed),
        "engine": engine_versions(),
        "settings": {"sample_rate": int(sample_rate), "format": settings.format, "subtype": settings.subtype,
                     "bits": settings.bits, "block_size": settings.block_size, "lufs_target": target_lufs,
                     "ceiling_dbtp": score.master.ceiling_dbtp, "master_gain_db": score.master.gain_db,
                     "stems": settings.stems},
        "options": options,
        "result": dict(measured, gain_db=summary.gain_db),
        "content_hash": summary.content_hash,
        "fingerprint": fingerprint_name,
        "stems": [{"file": f"{final.parent.name}/{final.name}", "sha256": file_sha256(written)}
                  for written, final in (stems or [])],
        "click": {"file": click[1].name, "sha256": file_sha256(click[0])} if click else None,
    }


def add_render_outputs(files, score, out_path: Path, settings, summary, *, sample_rate: int, seed: int,
                       target_lufs: float | None) -> None:
    """Add the fingerprint (``settings.fingerprint``) and the manifest (``settings.manifest``)
    of a finished render to the pending files of ``files`` (an ``_AtomicFiles``).

    Called by :func:`symphony.render.render_score` before it commits, so the audio, the
    fingerprint and the manifest appear together or not at all.
    """
    audio_tmp = files.pending_temp(out_path)
    fp_name = None
    if getattr(settings, "fingerprint", False):
        from symphony.fingerprint import fingerprint_file, write_fingerprint

        fp = fingerprint_file(audio_tmp, score=score, command=f"symphony render --fingerprint {score.path}")
        fp.source["path"] = out_path.as_posix()
        fp_target = fingerprint_path(out_path)
        write_fingerprint(fp, files.temp_for(fp_target))
        fp_name = fp_target.name
    if not getattr(settings, "manifest", True):
        return
    stems = []
    if summary.stems:
        stems_dir = Path(summary.stems[0]).parent
        written_dir = files.pending_temp(stems_dir)
        stems = [(written_dir / Path(p).name, Path(p)) for p in summary.stems]
    click = None
    if getattr(summary, "click", None):
        click = (files.pending_temp(Path(summary.click)), Path(summary.click))
    manifest = render_manifest(score, audio_tmp, out_path, settings, summary, sample_rate=sample_rate,
                               seed=seed, target_lufs=target_lufs, fingerprint_name=fp_name, stems=stems,
                               click=click)
    files.temp_for(manifest_path(out_path)).write_text(to_json(manifest), encoding="utf-8")


def add_album_manifest(files, album_tmp: Path, out_path: Path, chapter_files, settings, *,
                       gap_seconds: float, measured: dict[str, Any] | None = None) -> None:
    """Add the album's manifest to ``files``: its chapters (file, sha256, score, seed from their
    own manifests when present), the gap, the settings and the measured file (``measured``:
    :func:`measure_audio`'s figures taken while the album was written; else the file is read)."""
    chapters = []
    for path in map(Path, chapter_files):
        entry: dict[str, Any] = {"file": path.name, "sha256": file_sha256(path)}
        own = manifest_path(path)
        if own.is_file():
            entry["manifest"] = own.name
            try:
                data = json.loads(own.read_text(encoding="utf-8"))
                entry["score"] = data.get("score", {}).get("path")
                entry["score_sha256"] = data.get("score", {}).get("sha256")
                entry["seed"] = data.get("seed")
            except (OSError, ValueError, AttributeError):
                pass
        chapters.append(entry)
    result = dict(measured) if measured is not None else measure_audio(album_tmp)
    audio = _audio_entry(album_tmp, out_path, settings.subtype, result.pop("samples_sha256"))
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "kind": "album",
        "created_utc": _now_utc(),
        "audio": audio,
        "chapters": chapters,
        "gap_seconds": gap_seconds,
        "engine": engine_versions(),
        "settings": {"sample_rate": result["sample_rate"], "format": settings.format,
                     "subtype": settings.subtype, "bits": settings.bits},
        "result": result,
    }
    files.temp_for(manifest_path(out_path)).write_text(to_json(manifest), encoding="utf-8")


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Read and sanity-check a render manifest.

    Raises
    ------
    ParameterError
        Missing file, invalid JSON, another kind or version, missing fields.
    """
    path = Path(path)
    if path.is_dir():
        raise ParameterError(f"{path}: is a folder; give the manifest file (renders/<name>{MANIFEST_SUFFIX})")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"{path}: no such manifest; render the score first (symphony render writes "
                             f"<name>{MANIFEST_SUFFIX} next to the audio) or give its path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read the manifest: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); "
                             f"re-render to write a fresh manifest") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: not a symphony manifest (expected a JSON object, got "
                             f"{type(data).__name__})")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ParameterError(f"{path}: not a symphony render manifest (missing {', '.join(missing)}); "
                             f"re-render to write a fresh manifest")
    if data["manifest_version"] != MANIFEST_VERSION:
        raise ParameterError(f"{path}: manifest version {data['manifest_version']!r}, this symphony reads "
                             f"version {MANIFEST_VERSION}; re-render to write a fresh manifest")
    if data["kind"] != "render":
        raise ParameterError(f"{path}: a manifest of kind {data['kind']!r}; --check-manifest checks one "
                             f"render: check each chapter's own manifest")
    for key in ("audio", "score", "settings", "result"):
        if not isinstance(data[key], dict):
            raise ParameterError(f"{path}: field '{key}' must be an object, got {type(data[key]).__name__}")
    if not isinstance(data["audio"].get("sha256"), str) or not isinstance(data["audio"].get("file"), str):
        raise ParameterError(f"{path}: field 'audio' needs 'file' and 'sha256' strings")
    return data


# ---------------------------------------------------------------------------- checking
@dataclass
class ManifestCheck:
    """A fresh render compared with a manifest (see :func:`check_manifest`).

    ``music_same`` is None when the audio is identical or when there was nothing to compare
    the music with (no fingerprint and no audio file next to the manifest).
    """

    manifest_path: str
    score_path: str
    score_changed: bool
    inputs_changed: list[str]
    settings_changed: dict[str, tuple[Any, Any]]
    engine_changed: dict[str, tuple[Any, Any]]
    audio_identical: bool
    samples_identical: bool
    old: dict[str, Any]
    new: dict[str, Any]
    music_same: bool | None = None
    comparison: Any = None  # symphony.fingerprint.Comparison
    reference: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        """The fresh render is the manifest's audio: the same file or samples bit for bit, or
        else the same music."""
        return self.audio_identical or self.samples_identical or self.music_same is True

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``--check-manifest --json``)."""
        return _finite({
            "matches": self.matches, "manifest": self.manifest_path, "score": self.score_path,
            "score_changed": self.score_changed, "inputs_changed": self.inputs_changed,
            "settings_changed": {k: list(v) for k, v in self.settings_changed.items()},
            "engine_changed": {k: list(v) for k, v in self.engine_changed.items()},
            "audio_identical": self.audio_identical, "samples_identical": self.samples_identical,
            "music_same": self.music_same,
            "reference": self.reference,
            "comparison": self.comparison.to_dict() if self.comparison is not None else None,
            "old_sha256": self.old["audio"]["sha256"], "new_sha256": self.new["audio"]["sha256"],
            "notes": self.notes})

    def format(self) -> str:
        """The human report printed by ``symphony render --check-manifest``."""
        old, new = self.old, self.new
        lines = [f"check {self.manifest_path} against a fresh render of {self.score_path}"]
        sha_old, sha_new = old["score"].get("sha256", ""), new["score"]["sha256"]
        lines.append(f"  score      {'changed' if self.score_changed else 'same'}"
                     + (f" (sha256 {str(sha_old)[:12]} -> {sha_new[:12]})" if self.score_changed
                        else f" (sha256 {sha_new[:12]})"))
        if self.inputs_changed:
            lines.append(f"  inputs     changed: {', '.join(self.inputs_changed)}")
        lines.append("  settings   " + ("same" if not self.settings_changed else "changed: " + ", ".join(
            f"{k} {a!r} -> {b!r}" for k, (a, b) in self.settings_changed.items())))
        lines.append("  engine     " + ("same" if not self.engine_changed else "changed: " + ", ".join(
            f"{k} {a} -> {b}" for k, (a, b) in self.engine_changed.items())))
        a_old, a_new = old["audio"]["sha256"], new["audio"]["sha256"]
        if self.audio_identical:
            lines.append(f"  audio      identical (sha256 {a_new[:12]})")
        elif self.samples_identical:
            lines.append(f"  audio      samples identical (samples sha256 {new['audio']['samples_sha256'][:12]}); "
                         f"the file's metadata differs (sha256 {a_old[:12]} -> {a_new[:12]})")
        else:
            lines.append(f"  audio      differs (sha256 {a_old[:12]} -> {a_new[:12]})")
            if self.music_same is None:
                lines.append("  music      cannot tell: no fingerprint and no audio file next to the manifest "
                             "(render with --fingerprint to keep one)")
            else:
                from symphony.fingerprint.report import format_comparison

                lines.append(f"  music      {'same' if self.music_same else 'differs'} "
                             f"(fingerprints: fresh render vs {self.reference})")
                lines.append(format_comparison(self.comparison, indent="    "))
        stems_line = _stems_line(old.get("stems"), new.get("stems"))
        if stems_line:
            lines.append(f"  stems      {stems_line}")
        r_old, r_new = old["result"], new["result"]
        lines.append(f"  loudness   {_num(r_old.get('integrated_lufs'))} -> {_num(r_new.get('integrated_lufs'))} "
                     f"LUFS, true peak {_num(r_old.get('true_peak_dbtp'))} -> {_num(r_new.get('true_peak_dbtp'))} "
                     f"dBTP, {r_old.get('n_frames')} -> {r_new.get('n_frames')} frames")
        for note in self.notes:
            lines.append(f"  note: {note}")
        lines.append("result: " + ("matches the manifest" if self.matches else "differs from the manifest"))
        return "\n".join(lines)


def _stems_line(old: Any, new: Any) -> str:
    """'4 identical' / '3 identical, 1 differs: lead.wav' / '' when neither render had stems."""
    old = {s.get("file"): s.get("sha256") for s in old or [] if isinstance(s, dict)}
    new = {s["file"]: s["sha256"] for s in new or []}
    if not old and not new:
        return ""
    same = [f for f in new if old.get(f) == new[f]]
    differ = [f for f in new if f in old and old[f] != new[f]]
    added, missing = [f for f in new if f not in old], [f for f in old if f not in new]
    parts = [f"{len(same)} identical"]
    for word, names in (("differ", differ), ("new", added), ("missing", missing)):
        if names:
            parts.append(f"{len(names)} {word}: {', '.join(Path(n).name for n in names)}")
    return ", ".join(parts)


def _num(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "n/a"


def _diff(old: dict[str, Any], new: dict[str, Any], keys=None) -> dict[str, tuple[Any, Any]]:
    keys = keys if keys is not None else sorted(set(old) | set(new))
    return {k: (old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)}


def _settings_for(manifest: dict[str, Any], overrides: dict[str, Any]):
    """RenderSettings of the recorded options (unknown ones dropped), then ``overrides``."""
    from symphony.render import RenderSettings

    known = {f.name for f in dataclasses.fields(RenderSettings)}
    options = manifest.get("options")
    if not isinstance(options, dict):  # a manifest without options: rebuild from the settings
        s = manifest["settings"]
        options = {"sample_rate": s.get("sample_rate"), "format": s.get("format", "wav"),
                   "bits": s.get("bits", 24), "lufs": s.get("lufs_target"), "stems": bool(s.get("stems")),
                   "block_size": s.get("block_size", 4096), "seed": manifest.get("seed")}
    options = {k: v for k, v in options.items() if k in known}
    options.update({k: v for k, v in overrides.items() if k in known})
    options["fingerprint"] = False
    options["manifest"] = True
    try:
        return RenderSettings(**options)
    except (TypeError, ParameterError) as exc:
        raise ParameterError(f"the manifest's render options cannot be used: {exc}") from None


def check_manifest(score_path: str | os.PathLike, manifest_file: str | os.PathLike, *,
                   overrides: dict[str, Any] | None = None, tolerances=None) -> ManifestCheck:
    """Re-render ``score_path`` into a temporary folder and compare it with ``manifest_file``.

    The render uses the options recorded in the manifest, with ``overrides`` (RenderSettings
    field -> value) on top. It goes to a temporary folder (``tempfile``: ``$TMPDIR`` or
    /tmp); nothing next to the manifest is touched.

    Returns
    -------
    ManifestCheck
        ``matches`` when the fresh file or its samples are bit-identical to the recorded
        sha256, or else the same music per the fingerprint comparison (against the recorded ``.fp`` if there is
        one, else the audio file next to the manifest).

    Raises
    ------
    ParameterError
        Missing or malformed manifest, unusable options.
    ScoreError
        The score does not load.
    """
    from symphony.catalog import load
    from symphony.render import render_score

    manifest_file = Path(manifest_file)
    old = read_manifest(manifest_file)
    score = load(score_path)
    settings = _settings_for(old, overrides or {})
    audio_name = Path(old["audio"]["file"]).stem + "." + settings.format
    with tempfile.TemporaryDirectory(prefix="symphony-check-") as tmp:
        target = Path(tmp) / audio_name
        render_score(score, target, settings)
        new = json.loads(manifest_path(target).read_text(encoding="utf-8"))
        check = ManifestCheck(
            manifest_path=str(manifest_file), score_path=str(score_path),
            score_changed=old["score"].get("sha256") != new["score"]["sha256"],
            inputs_changed=_changed_inputs(old.get("inputs"), new["inputs"]),
            settings_changed=_settings_diff(old, new),
            engine_changed=_diff(old.get("engine") or {}, new["engine"]),
            audio_identical=old["audio"]["sha256"] == new["audio"]["sha256"],
            samples_identical=old["audio"].get("samples_sha256") == new["audio"]["samples_sha256"],
            old=old, new=new)
        recorded = old["score"].get("path")
        if isinstance(recorded, str) and Path(recorded).resolve() != Path(score_path).resolve():
            check.notes.append(f"the manifest was made from {recorded}, this check rendered {score_path}")
        if not (check.audio_identical or check.samples_identical):
            _compare_music(check, score, target, manifest_file, tolerances)
    return check


def _settings_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    s_old = dict(old["settings"], seed=old.get("seed"))
    s_new = dict(new["settings"], seed=new.get("seed"))
    return _diff(s_old, s_new, keys=[k for k in s_new if k in s_old])


def _changed_inputs(old: Any, new: list[dict[str, Any]]) -> list[str]:
    if not isinstance(old, list):
        return []
    before = {i.get("path"): i.get("sha256") for i in old if isinstance(i, dict) and i.get("role") != "score"}
    now = {i["path"]: i["sha256"] for i in new if i.get("role") != "score"}
    changed = [p for p in sorted(set(before) | set(now)) if before.get(p) != now.get(p)]
    return [f"{p} ({'added' if p not in before else 'removed' if p not in now else 'changed'})"
            for p in changed]


def _compare_music(check: ManifestCheck, score, fresh_audio: Path, manifest_file: Path, tolerances) -> None:
    """Fingerprint the fresh render and compare it with the recorded fingerprint or audio."""
    from symphony.fingerprint import compare, fingerprint_file, read_fingerprint
    from symphony.fingerprint.timegrid import TimeGrid

    folder = manifest_file.parent
    reference = None
    fp_name = check.old.get("fingerprint")
    if isinstance(fp_name, str) and (folder / fp_name).is_file():
        reference = folder / fp_name
        ref_fp = read_fingerprint(reference)
    else:
        audio = folder / check.old["audio"]["file"]
        if audio.is_file():
            reference = audio
            if file_sha256(audio) != check.old["audio"]["sha256"]:
                check.notes.append(f"{audio} was changed after the manifest was written (its sha256 differs)")
            ref_fp = fingerprint_file(audio, score=score)
    if reference is None:
        check.notes.append("no reference to compare the music with")
        return
    fresh = fingerprint_file(fresh_audio, score=score)
    check.comparison = compare(fresh, ref_fp, tolerances=tolerances, grid=TimeGrid.from_score(score),
                               a_name="fresh render", b_name=str(reference))
    check.music_same = bool(check.comparison.same)
    check.reference = str(reference)


__all__ = ["MANIFEST_SUFFIX", "MANIFEST_VERSION", "ManifestCheck", "add_album_manifest", "add_render_outputs",
           "check_manifest", "engine_versions", "file_sha256", "fingerprint_path", "manifest_path",
           "measure_audio", "read_manifest", "render_manifest", "score_inputs", "to_json"]
