"""File-system faults: missing or read-only output folder, disk full, hostile names.

Each failure is one clean message (exit 1 from the CLI), the previous render is intact and
no temporary file is left. Disk-full and read-only run twice: with a patched writer
(portable) and on a real tmpfs (needs root and mount; skipped with the reason otherwise).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import types
from pathlib import Path

import pytest
import soundfile as sf
from click.testing import CliRunner

from symphony.catalog import load
from symphony.cli import main
from symphony.errors import RenderError
from symphony.render import RenderSettings, output_path, render_score, safe_name
from tests.conftest import write_score
from tests.faults.helpers import FAULT_SCORE, leftovers

PREVIOUS = b"previous render"


@pytest.fixture(scope="module")
def score(tmp_path_factory):
    return load(write_score(tmp_path_factory.mktemp("score"), FAULT_SCORE, "09-faults.toml"))


def render_cli(score_path: Path, out_dir: Path, *extra: str):
    return CliRunner().invoke(main, ["render", str(score_path), "--out-dir", str(out_dir), *extra])


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """Mount a tmpfs of ``size`` at ``path`` for the block; always unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the patched-writer tests cover this fault")
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or mounted.returncode}); "
                    f"the patched-writer tests cover this fault")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)  # lazy: never blocked


def remount_read_only(path: Path) -> None:
    done = subprocess.run(["mount", "-o", "remount,ro", str(path)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot remount the tmpfs read-only ({done.stderr.strip()})")


# ------------------------------------------------------------------ output folder
def test_missing_output_folders_are_created(tmp_path):
    path = write_score(tmp_path, FAULT_SCORE, "09-faults.toml")
    out = tmp_path / "a" / "b" / "renders"
    result = render_cli(path, out)
    assert result.exit_code == 0, result.output
    assert sf.info(out / "09-faults.wav").frames > 0
    assert leftovers(out) == []


def test_output_folder_that_is_a_file(tmp_path):
    path = write_score(tmp_path, FAULT_SCORE, "09-faults.toml")
    blocker = tmp_path / "renders"
    blocker.write_bytes(PREVIOUS)
    result = render_cli(path, blocker)  # click checks an existing --out-dir: a usage error
    assert result.exit_code == 2 and f"'{blocker}' is a file" in result.output
    result = render_cli(path, blocker / "chapter")  # below a file: only the writer finds out
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith(f"error: cannot write {blocker / 'chapter' / '09-faults.wav'}: Not a directory")
    assert "check that the folder exists, is writable and has free space" in result.output
    assert blocker.read_bytes() == PREVIOUS


def test_read_only_folder_patched(score, tmp_path, monkeypatch):
    out = tmp_path / "x.wav"
    out.write_bytes(PREVIOUS)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr("symphony.render.tempfile.mkstemp", refuse)
    with pytest.raises(RenderError, match=r"cannot write .*x\.wav: Permission denied; check that the folder"):
        render_score(score, out, RenderSettings())
    assert out.read_bytes() == PREVIOUS and leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits; the read-only tmpfs test "
                                              "covers this as root")
def test_read_only_folder_chmod(tmp_path):  # pragma: no cover - runs as a normal user only
    path = write_score(tmp_path, FAULT_SCORE, "09-faults.toml")
    out = tmp_path / "renders"
    out.mkdir()
    (out / "09-faults.wav").write_bytes(PREVIOUS)
    out.chmod(0o555)
    try:
        result = render_cli(path, out)
    finally:
        out.chmod(0o755)
    assert result.exit_code == 1 and "Permission denied" in result.output
    assert (out / "09-faults.wav").read_bytes() == PREVIOUS


def test_read_only_filesystem(tmp_path):
    path = write_score(tmp_path, FAULT_SCORE, "09-faults.toml")
    with tmpfs(tmp_path / "ro", "4m") as out:
        (out / "09-faults.wav").write_bytes(PREVIOUS)
        remount_read_only(out)
        result = render_cli(path, out)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert "cannot write" in result.output and "Read-only file system" in result.output
        assert (out / "09-faults.wav").read_bytes() == PREVIOUS
        assert leftovers(out) == []


# ------------------------------------------------------------------ disk full
def _full_disk(ok_writes: int, exc: BaseException):
    """A ``SoundFile.write`` that fails like libsndfile on ENOSPC after ``ok_writes`` calls."""
    real = sf.SoundFile.write
    calls = [0]

    def write(f, data):
        calls[0] += 1
        if calls[0] > ok_writes:
            raise exc
        return real(f, data)
    return write


@pytest.mark.parametrize("lufs", [None, -18.0])
@pytest.mark.parametrize("ok_writes", [0, 5])
def test_disk_full_patched_writer(score, tmp_path, monkeypatch, lufs, ok_writes):
    out = tmp_path / "x.wav"
    out.write_bytes(PREVIOUS)
    monkeypatch.setattr(sf.SoundFile, "write", _full_disk(ok_writes, sf.LibsndfileError(2, "")))
    monkeypatch.setattr("symphony.render.shutil.disk_usage",
                        lambda p: types.SimpleNamespace(total=10**9, used=10**9, free=0))
    with pytest.raises(RenderError, match=r"cannot write .*x\.wav: the disk is full \(0 bytes free in .*\); "
                                          r"free some space or choose another --out-dir; nothing was written"):
        render_score(score, out, RenderSettings(lufs=lufs, stems=True))
    assert out.read_bytes() == PREVIOUS
    assert sorted(os.listdir(tmp_path)) == ["x.wav"]


def test_disk_full_as_oserror(score, tmp_path, monkeypatch):
    out = tmp_path / "x.wav"
    monkeypatch.setattr(sf.SoundFile, "write", _full_disk(2, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    with pytest.raises(RenderError, match="No space left on device"):
        render_score(score, out, RenderSettings())
    assert os.listdir(tmp_path) == []


def test_disk_full_refused_up_front_on_a_small_tmpfs(tmp_path):
    path = write_score(tmp_path, FAULT_SCORE, "09-faults.toml")
    with tmpfs(tmp_path / "small", "256k") as out:
        (out / "09-faults.wav").write_bytes(PREVIOUS)
        result = render_cli(path, out)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert f"{path}: not enough disk space in {out}: the render needs ~1.1 MB" in result.output
        assert "of audio (187425 frames at 22050 Hz)" in result.output
        assert (out / "09-faults.wav").read_bytes() == PREVIOUS and leftovers(out) == []


@pytest.mark.parametrize("extra", [[], ["--lufs", "-18", "--stems"]])
def test_disk_really_full_on_a_small_tmpfs(tmp_path, monkeypatch, extra):
    """The up-front check switched off: libsndfile hits ENOSPC for real."""
    path = write_score(tmp_path, FAULT_SCORE, "09-faults.toml")
    monkeypatch.setattr("symphony.limits.check_disk_space", lambda *a, **k: None)
    with tmpfs(tmp_path / "small", "256k") as out:
        (out / "09-faults.wav").write_bytes(PREVIOUS)
        result = render_cli(path, out, *extra)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert "the disk is full" in result.output or "No space left on device" in result.output, result.output
        assert (out / "09-faults.wav").read_bytes() == PREVIOUS
        assert leftovers(out) == [] and sorted(os.listdir(out)) == ["09-faults.wav"]


# ------------------------------------------------------------------ names
@pytest.mark.parametrize("score_name,expected", [
    ("scores/01-masters.toml", "01-masters.wav"),
    ("../../etc/passwd.toml", "passwd.wav"),
    ("..toml", "score.wav"),
    ("....toml", "score.wav"),
    ("-rf.toml", "rf.wav"),
    (".hidden.toml", "hidden.wav"),
    ("a..b.toml", "a.b.wav"),
    ("Métropolis — Moloch!.toml", "M-tropolis-Moloch.wav"),
    ("tab\tnew\nline.toml", "tab-new-line.wav"),
    ("x" * 300 + ".toml", "x" * 120 + ".wav"),
])
def test_output_names_are_sanitized(tmp_path, score_name, expected):
    target = output_path(score_name, tmp_path)
    assert target.parent == tmp_path
    assert target.name == expected


@pytest.mark.parametrize("text", ["../../evil", "/abs/path", "..", "", "a\x00b", "con", "ok_name-1.2"])
def test_safe_name_never_escapes(text):
    name = safe_name(text)
    assert name and "/" not in name and "\x00" not in name and not name.startswith((".", "-"))
    assert ".." not in name and len(name) <= 120


def test_stems_named_after_hostile_sections_stay_in_the_stems_folder(tmp_path):
    text = FAULT_SCORE.replace("[section.lead]", '[section."../../evil"]').replace(
        "[section.bass]", '[section."Bass Line"]').replace('{ section = "lead" }', '{ section = "../../evil" }') \
        .replace('{ section = "bass", transpose', '{ section = "Bass Line", transpose')
    text += '\n[section."bass-line"]\ninstrument = "acid_bass"\nvoices = 1\n'
    path = write_score(tmp_path, text, "09-faults.toml")
    out = tmp_path / "renders"
    result = render_cli(path, out, "--stems")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["09-faults.manifest.json", "09-faults.stems", "09-faults.wav"]
    assert sorted(os.listdir(out / "09-faults.stems")) == ["Bass-Line.wav", "bass-line-2.wav", "bus-echo.wav",
                                                          "evil.wav"]
    assert sorted(os.listdir(tmp_path)) == ["09-faults.toml", "renders"]


def test_odd_titles_only_reach_the_metadata(tmp_path):
    text = FAULT_SCORE.replace('title = "Faults"', 'title = "Über \\"Moloch\\"\\n../../ \\u2014 東京"')
    path = write_score(tmp_path, text, "09-faults.toml")
    out = tmp_path / "renders"
    result = render_cli(path, out)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["09-faults.manifest.json", "09-faults.wav"]
    assert sf.info(out / "09-faults.wav").frames == 187425
