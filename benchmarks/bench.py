"""symphony's benchmarks: speed side by side with Csound, album speed, live headroom, memory, parallel render.

Parts (``--parts``, default all):

``compare``   the reference workload (``benchmarks/reference.py``: 60 s at 48 kHz stereo,
              16 voices of two detuned saws -> resonant 4-pole ladder with a filter
              envelope -> ADSR -> pan, kick and snare on every beat, a master reverb) rendered
              by ``symphony render`` and by ``csound`` (``moogladder2`` and the linear
              ``zdf_ladder``), each a separate process, in alternation, ``--repeats`` times;
              medians of wall time, CPU time (user + sys of the child) and peak RSS, and the
              ratios symphony / Csound. Then 8, 32 and 64 voices (scaling). The first
              symphony run uses an empty numba cache: that is the cold start, reported
              separately; every later run finds the cache warm.
``quality``   loudness (BS.1770, ``symphony.dsp.loudness``), true peak, clicks (second
              difference against its local RMS, away from the scheduled onsets) and the
              long-term spectrum (octave bands) of the two 16-voice outputs.
``profile``   where symphony's time goes: cProfile of the 16-voice render, and the import time.
``album``     every ``scores/*.toml``: real-time factor per chapter on one core (one
              process, one numba/BLAS thread), the whole album with ``--jobs 1`` and
              ``--jobs 2`` (and whether both give bit-identical files); time to first audio
              of ``symphony play`` and a live run at a 128-frame JACK buffer (dummy driver)
              with its underruns, if ``symphony play`` and ``jackd`` are there.
``headroom``  per chapter, the render time of every block (Conductor + master chain, as
              the live engine does) at 64, 128, 256 and 512 frames, as a share of the
              block's duration: median, p99, max.
``memory``    peak RSS of ``symphony render`` for 5 and 60 minutes of the reference
              material (16 voices); the ratio must stay near 1.

Results go to ``benchmarks/results/latest.json`` (and one file per part);
``benchmarks/report.py`` turns them into the tables of ``docs/benchmarks.md``.

Usage::

    make bench                                    # everything, full size (slow: 1.5-2 h)
    .venv/bin/python benchmarks/bench.py --quick  # short runs, 1 repeat (minutes)
    .venv/bin/python benchmarks/bench.py --parts compare,quality --repeats 5
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import reference  # noqa: E402  (benchmarks/reference.py)

RESULTS_DIR = HERE / "results"
PARTS = ("compare", "quality", "profile", "album", "headroom", "memory")
BLOCK_SIZES = (64, 128, 256, 512)
LIVE_BUFFER = 128
#: One thread everywhere: "on one core" means one busy thread per render process.
SINGLE_THREAD_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                     "MKL_NUM_THREADS": "1"}


# ----------------------------------------------------------------------------- processes
def venv_bin(name: str) -> str:
    path = REPO / ".venv" / "bin" / name
    return str(path) if path.exists() else (shutil.which(name) or name)


#: Runs ``argv[2:]`` and writes its wall time, CPU times, peak RSS and exit code to
#: ``argv[1]``. A child's ``ru_maxrss`` includes the RSS of the process image it replaced at
#: exec: forked (or vforked) from this benchmark, whose own peak grows to hundreds of MB, every
#: child would report at least that (a 20 MB Csound showed 106 MB, ``true`` 412 MB). Started
#: from this small launcher (``python -S``, ~8 MB) instead, the figure is the command's own.
LAUNCHER = r"""
import os, sys, time
t = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t
with open(sys.argv[1], "w") as f:
    f.write(repr((wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, os.waitstatus_to_exitcode(status))))
"""


def run_measured(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None,
                 timeout: float | None = None) -> dict:
    """Run ``cmd`` as a child process; its wall time, CPU time (user + sys) and peak RSS.

    The command runs under :data:`LAUNCHER`, which waits for it with ``os.wait4``: the
    rusage of this one command (its peak RSS covers the descendants it waited for, e.g. the
    workers of ``--jobs``), independent of earlier commands and of this process's own size.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rusage") as report:
        proc = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, report.name, *map(str, cmd)],
                                stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the command
            proc.wait()
        text = report.read()
        wall, user, system, maxrss_kb, code = ast.literal_eval(text) if text else (float("nan"), 0.0, 0.0, 0, -9)
        proc.returncode = code
        out.seek(0)
        err.seek(0)
        result = {"cmd": " ".join(map(str, cmd)), "wall_s": wall, "cpu_s": user + system,
                  "user_s": user, "peak_rss_mb": maxrss_kb / 1024.0, "returncode": code,
                  "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")}
    if code != 0:
        raise RuntimeError(f"{result['cmd']} failed ({code}):\n{result['stderr'][-3000:]}")
    return result


def bench_env() -> dict:
    """The environment of every timed run: one thread, numba's ordinary (warm) cache."""
    env = dict(os.environ, **SINGLE_THREAD_ENV, PYTHONPATH=str(REPO))
    env.pop("NUMBA_CACHE_DIR", None)
    return env


WARM_SNIPPET = r"""
import sys
from symphony.catalog import load
from symphony.conductor import Conductor
for path in sys.argv[1:]:
    c = Conductor(load(path))
    c.render(block_size=512, end_frame=min(c.n_frames, 2 * c.sample_rate))
"""


def warm_up(env: dict, work: Path, log) -> None:
    """Compile (or load) every numba kernel the measured scores use, untimed.

    The timed runs then find numba's cache warm; the cold start is measured apart, with an
    empty cache folder of its own.
    """
    wdir = work / "warm"
    paths = reference.write_workload(wdir, 16, 10.0)
    scores = [str(paths["symphony"]), *map(str, chapter_scores())]
    started = time.perf_counter()
    run_measured([venv_bin("python"), "-c", WARM_SNIPPET, *scores], env=env)
    log(f"warm-up (numba cache) of {len(scores)} scores: {time.perf_counter() - started:.1f} s")


def symphony_render(score: Path, out_dir: Path, env: dict, *extra: str) -> dict:
    r = run_measured([venv_bin("symphony"), "render", str(score), "--out-dir", str(out_dir), "--json", *extra],
                     env=env)
    try:
        r["summary"] = json.loads(r["stdout"])
    except json.JSONDecodeError:
        r["summary"] = None
    return r


def csound_render(csd: Path, out: Path) -> dict:
    return run_measured(["csound", "-d", "-m0", "-W", "-3", "-o", str(out), str(csd)])


def median(values) -> float:
    return float(statistics.median(values))


def summarize(runs: list[dict]) -> dict:
    return {"wall_s": median(r["wall_s"] for r in runs), "cpu_s": median(r["cpu_s"] for r in runs),
            "peak_rss_mb": median(r["peak_rss_mb"] for r in runs), "n": len(runs),
            "wall_all_s": [round(r["wall_s"], 3) for r in runs], "cpu_all_s": [round(r["cpu_s"], 3) for r in runs]}


# ----------------------------------------------------------------------------- machine
def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem_gb = round(mem_kb / 1024 / 1024, 1)
    except (OSError, AttributeError):
        pass
    versions = {"python": platform.python_version()}
    try:
        import numba
        import numpy
        import scipy
        versions.update(numpy=numpy.__version__, scipy=scipy.__version__, numba=numba.__version__)
    except ImportError:
        pass
    try:
        from symphony import __version__
        versions["symphony"] = __version__
    except ImportError:
        pass
    cs = subprocess.run(["csound", "--version"], capture_output=True, text=True) if shutil.which("csound") else None
    if cs is not None:
        m = re.search(r"Csound version (\S+)", cs.stdout + cs.stderr)
        versions["csound"] = m.group(1) if m else "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "kernel": platform.release(),
            "os": _os_name(), "load_average_at_start": list(os.getloadavg()), "versions": versions,
            "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text()
        return re.search(r'PRETTY_NAME="([^"]+)"', text).group(1)
    except (OSError, AttributeError):
        return platform.platform()


# ----------------------------------------------------------------------------- part 1: compare
def part_compare(cfg, work: Path, env: dict, log) -> dict:
    if shutil.which("csound") is None:
        raise SystemExit("csound is not installed: bash scripts/install-system-deps.sh bench")
    results = {"seconds": cfg.seconds, "repeats": cfg.repeats, "ksmps": 32, "voices": {}}
    outputs = {}
    for voices in (16,) + tuple(v for v in cfg.voices if v != 16):
        wdir = work / f"ref-{voices}"
        paths = reference.write_workload(wdir, voices, cfg.seconds)
        repeats = cfg.repeats if voices == 16 else cfg.scaling_repeats
        if voices == 16:
            log(f"compare: cold start (empty numba cache) at {voices} voices")
            cold = symphony_render(paths["symphony"], wdir / "cold",
                                   dict(env, NUMBA_CACHE_DIR=str(work / "numba-cold-cache")))
            results["cold_start"] = {"wall_s": cold["wall_s"], "cpu_s": cold["cpu_s"],
                                     "render_s": cold["summary"]["render_seconds"]}
        else:
            symphony_render(paths["symphony"], wdir / "warm", env)  # untimed: same code paths
        engines = ["symphony", *reference.FILTERS]
        runs = {e: [] for e in engines}
        for r in range(repeats):
            order = engines if r % 2 == 0 else engines[::-1]  # alternate who goes first
            for e in order:
                if e == "symphony":
                    res = symphony_render(paths["symphony"], wdir / "sym", env)
                    res["render_s"] = res["summary"]["render_seconds"]
                else:
                    res = csound_render(paths[e], wdir / f"csound-{e}.wav")
                runs[e].append(res)
                log(f"compare {voices:>2} voices, repeat {r + 1}/{repeats}: {e:<12} wall {res['wall_s']:6.2f} s  "
                    f"cpu {res['cpu_s']:6.2f} s  peak {res['peak_rss_mb']:6.1f} MB")
        entry = {e: summarize(runs[e]) for e in engines}
        entry["symphony"]["render_s"] = median(r["render_s"] for r in runs["symphony"])
        for e in reference.FILTERS:
            entry[f"ratio_vs_{e}"] = {k: entry["symphony"][k] / entry[e][k] for k in ("wall_s", "cpu_s", "peak_rss_mb")}
        results["voices"][str(voices)] = entry
        if voices == 16:
            outputs = {"symphony": str(wdir / "sym" / "reference-16.wav"),
                       **{e: str(wdir / f"csound-{e}.wav") for e in reference.FILTERS}}
    results["outputs"] = outputs
    return results


# ----------------------------------------------------------------------------- quality
def find_clicks(x: np.ndarray, sample_rate: int, *, ratio: float = 20.0, window_ms: float = 10.0,
                floor: float = 2e-3) -> np.ndarray:
    """Frames where the second difference exceeds ``ratio`` x its RMS over the preceding window + ``floor``."""
    e = np.abs(np.diff(x, n=2, axis=-1)).max(axis=0)
    w = max(4, int(window_ms * sample_rate / 1000))
    c = np.concatenate([[0.0], np.cumsum(e * e)])
    idx = np.arange(e.size)
    lo = np.maximum(idx - w, 0)
    local = np.sqrt((c[idx] - c[lo]) / np.maximum(idx - lo, 1))
    return np.flatnonzero(e > ratio * local + floor) + 1


def octave_bands(x: np.ndarray, sample_rate: int) -> tuple[list[float], list[float]]:
    """Long-term spectrum of the mid signal in octave bands (31.5 Hz .. 16 kHz), dB re total power."""
    from scipy.signal import welch

    f, p = welch(x.mean(axis=0), fs=sample_rate, nperseg=8192)
    centres = [31.5 * 2 ** k for k in range(10)]
    total = p.sum()
    levels = []
    for fc in centres:
        band = (f >= fc / np.sqrt(2)) & (f < fc * np.sqrt(2))
        levels.append(float(10 * np.log10(max(p[band].sum() / total, 1e-20))))
    return centres, levels


def part_quality(cfg, compare: dict, log) -> dict:
    import soundfile as sf

    from symphony.dsp.loudness import LoudnessMeter

    outs = compare.get("outputs") or {}
    if not outs:
        return {"error": "no outputs: run the compare part first"}
    sr = reference.SAMPLE_RATE
    spb = 60.0 / reference.BPM
    events = [b * spb for b in range(int(cfg.seconds / spb))]
    for lane in reference.lanes(16, cfg.seconds):
        for start, _ in lane:
            t = start * spb
            events += [t, t + 4 * spb * reference.LEGATO]
    ev = np.sort(np.round(np.array(events) * sr).astype(np.int64))
    guard = int(0.004 * sr)
    res = {}
    spectra = {}
    for name, path in outs.items():
        x, rate = sf.read(path, always_2d=True)
        x = x.T
        meter = LoudnessMeter(rate, channels=2)
        meter.process(x)
        meter.flush_true_peak()
        clicks = find_clicks(x, rate)
        near = np.zeros(clicks.size, dtype=bool)
        if clicks.size:
            pos = np.searchsorted(ev, clicks)
            for off in (-1, 0):
                j = np.clip(pos + off, 0, ev.size - 1)
                near |= np.abs(ev[j] - clicks) <= guard
        centres, levels = octave_bands(x, rate)
        spectra[name] = levels
        from scipy.signal import welch
        f, p = welch(x.mean(axis=0), fs=rate, nperseg=8192)
        res[name] = {"integrated_lufs": meter.integrated_lufs(), "true_peak_dbtp": meter.true_peak_dbtp(),
                     "sample_peak_dbfs": meter.sample_peak_dbfs(), "clicks_total": int(clicks.size),
                     "clicks_away_from_onsets": int((~near).sum()),
                     "spectral_centroid_hz": float((f * p).sum() / p.sum()), "octave_bands_db": levels,
                     "lr_correlation": float(np.corrcoef(x[0], x[1])[0, 1])}
        log(f"quality {name:<12} {res[name]['integrated_lufs']:6.2f} LUFS  TP {res[name]['true_peak_dbtp']:6.2f} dBTP  "
            f"clicks {clicks.size} ({res[name]['clicks_away_from_onsets']} away from onsets)  "
            f"centroid {res[name]['spectral_centroid_hz']:.0f} Hz")
    res["band_centres_hz"] = centres
    for e in reference.FILTERS:
        if e in spectra:
            d = np.array(spectra["symphony"]) - np.array(spectra[e])
            res[f"band_diff_vs_{e}_db"] = d.tolist()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for name, levels in spectra.items():
            ax.semilogx(centres, levels, marker="o", label=name)
        ax.set_xlabel("octave band centre (Hz)")
        ax.set_ylabel("dB re total power")
        ax.set_title(f"Long-term spectrum, reference workload (16 voices, {cfg.seconds:g} s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        png = RESULTS_DIR / "spectrum.png"
        RESULTS_DIR.mkdir(exist_ok=True)
        fig.savefig(png, dpi=90)
        res["plot"] = str(png.relative_to(REPO))
    except Exception as exc:  # the plot is optional
        res["plot_error"] = str(exc)
    return res


# ----------------------------------------------------------------------------- profile
PROFILE_SNIPPET = r"""
import cProfile, io, json, pstats, sys, time
from symphony.catalog import load
from symphony.conductor import Conductor
score = load(sys.argv[1])
c = Conductor(score)
c.render(block_size=4096, end_frame=c.sample_rate)  # warm up
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
end = int(seconds * c.sample_rate) if seconds > 0 else None
pr = cProfile.Profile(time.process_time)  # CPU time: robust to other load on the machine
t0 = time.process_time()
pr.enable()
c.render(block_size=4096, end_frame=end)
pr.disable()
cpu = time.process_time() - t0
st = pstats.Stats(pr)
rows = []
total = sum(v[2] for v in st.stats.values())
for (file, line, fn), (cc, nc, tt, ct, callers) in sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:14]:
    short = file.split("/symphony/")[-1] if "/symphony/" in file else file.split("/")[-1]
    rows.append({"function": f"{short}:{line}({fn})", "calls": nc, "tottime_s": tt, "share": tt / total})
audio = (end or c.n_frames) / c.sample_rate
print(json.dumps({"cpu_s": cpu, "profiled_total_s": total, "audio_s": audio, "top": rows}))
"""

IMPORT_SNIPPET = r"""
import time
t0 = time.perf_counter(); c0 = time.process_time()
import numba
t1 = time.perf_counter(); c1 = time.process_time()
import scipy.signal
t2 = time.perf_counter(); c2 = time.process_time()
import symphony.cli, symphony.render, symphony.catalog, symphony.instruments, symphony.dsp.reverb
t3 = time.perf_counter(); c3 = time.process_time()
import json
print(json.dumps({"numba_s": c1 - c0, "scipy_signal_s": c2 - c1, "symphony_rest_s": c3 - c2, "total_cpu_s": c3 - c0,
                  "total_wall_s": t3 - t0}))
"""


def part_profile(cfg, work: Path, env: dict, log) -> dict:
    wdir = work / "ref-16"
    paths = reference.write_workload(wdir, 16, cfg.seconds)
    prof = run_measured([venv_bin("python"), "-c", PROFILE_SNIPPET, str(paths["symphony"])], env=env)
    imp = [json.loads(run_measured([venv_bin("python"), "-c", IMPORT_SNIPPET], env=env)["stdout"])
           for _ in range(3)]
    out = {"render": json.loads(prof["stdout"]),
           "imports": {k: median(d[k] for d in imp) for k in imp[0]}, "chapters": {}}
    for row in out["render"]["top"][:8]:
        log(f"profile {100 * row['share']:5.1f} %  {row['tottime_s']:6.2f} s  {row['function']}")
    for s in chapter_scores():
        r = run_measured([venv_bin("python"), "-c", PROFILE_SNIPPET, str(s), str(cfg.headroom_seconds)], env=env)
        out["chapters"][s.name] = json.loads(r["stdout"])
        top = out["chapters"][s.name]["top"][:3]
        log(f"profile {s.name}: " + ", ".join(f"{100 * t['share']:.0f} % {t['function']}" for t in top))
    log(f"profile imports: {out['imports']}")
    return out


# ----------------------------------------------------------------------------- part 2: album
SCORES_GLOB: str | None = None  # --scores


def chapter_scores() -> list[Path]:
    """The album: ``scores/NN-*.toml`` when there are such chapters, else every ``scores/*.toml``
    (or the files matching ``--scores``).

    A chapter that does not load (work in progress) is left out with a warning.
    """
    from symphony.catalog import load
    from symphony.errors import SymphonyError

    if SCORES_GLOB:
        chapters = sorted(REPO.glob(SCORES_GLOB))
    else:
        everything = sorted((REPO / "scores").glob("*.toml"))
        chapters = [p for p in everything if re.match(r"\d\d-", p.name)] or everything
    ok = []
    for p in chapters:
        try:
            load(str(p))
        except SymphonyError as exc:
            print(f"warning: {p.name} does not load, left out: {str(exc).splitlines()[0]}", file=sys.stderr)
            continue
        ok.append(p)
    return ok


def play_available() -> bool:
    try:
        r = subprocess.run([venv_bin("symphony"), "play", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and shutil.which("jackd") is not None


class JackDummy:
    """A private JACK server (dummy driver) for the live measurements; killed on exit."""

    def __init__(self, sample_rate: int, period: int) -> None:
        self.name = f"symphony-bench-{os.getpid()}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["jackd", "-n", self.name, "-d", "dummy", "-r", str(sample_rate),
                                      "-p", str(period)], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_START_SERVER="1")
        deadline = time.monotonic() + 20
        while True:
            probe = subprocess.run(["jack_lsp"], env=self.env, capture_output=True, text=True)
            if "system:playback_1" in probe.stdout:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("jackd (dummy driver) did not start")
            time.sleep(0.2)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def _live_attr(name: str):
    """``name`` from the live package, wherever it lives (``symphony.live`` or a submodule)."""
    import importlib

    for mod in ("symphony.live", "symphony.live.engine", "symphony.live.ring"):
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        if hasattr(m, name):
            return getattr(m, name)
    return None


def live_run(score: Path, jack: JackDummy, env: dict, seconds: float) -> dict:
    """``symphony play`` against the dummy JACK server: time to first audio, underruns, block times."""
    cmd = [venv_bin("symphony"), "play", str(score), "--backend", "jack", "--buffer", str(LIVE_BUFFER),
           "--osc-port", "0", "--seconds", f"{seconds:g}"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=dict(env, **{k: jack.env[k] for k in ("JACK_DEFAULT_SERVER",
                                                                            "JACK_NO_START_SERVER")}),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_audio = None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if first_audio is None and line.startswith("playing "):
            first_audio = time.perf_counter() - started
    proc.wait(seconds + 120)
    text = "".join(lines)
    out = {"returncode": proc.returncode, "time_to_first_audio_s": first_audio, "stderr_tail": text[-600:]}
    out.update(parse_play_summary(text))
    return out


def parse_play_summary(text: str) -> dict:
    """Underruns and block render times (% of a block) from ``symphony play``'s summary."""
    out: dict = {}
    # the summary line of `symphony play`, e.g. "underruns: 0; block render time (3377 blocks of
    # 2.90 ms): mean 0.71 ms (24 %), median 0.02 ms (1 %), p99 6.82 ms (235 %), worst 48.22 ms (1661 %)"
    m = re.search(r"underruns: (\d+)", text)
    if m:
        out["underruns"] = int(m.group(1))
        b = re.search(r"\((\d+) blocks of ([\d.]+) ms\)", text)
        if b:
            out.update(blocks=int(b.group(1)), block_ms=float(b.group(2)))
        for key in ("mean", "median", "p99", "worst"):
            f = re.search(key + r" ([\d.]+) ms \((\d+) %\)", text)
            if f:
                out[f"{key}_pct"] = float(f.group(2))
    return out


def audio_digest(path: Path) -> str:
    import hashlib

    import soundfile as sf
    data, sr = sf.read(path, dtype="int32", always_2d=True)
    return hashlib.sha256(data.tobytes() + str(sr).encode()).hexdigest()


def part_album(cfg, work: Path, env: dict, log) -> dict:
    scores = chapter_scores()
    res = {"scores": [str(s.relative_to(REPO)) for s in scores], "chapters": {}, "repeats": cfg.album_repeats}
    if not scores:
        return res
    wdir = work / "album"
    for s in scores:
        runs = []
        for r in range(cfg.album_repeats):
            res_r = symphony_render(s, wdir / "one", env)
            runs.append(res_r)
        sm = [r["summary"][0] if isinstance(r["summary"], list) else r["summary"] for r in runs]
        dur = sm[0]["duration_seconds"]
        render_s = median(x["render_seconds"] for x in sm)
        entry = summarize(runs)
        entry.update(duration_s=dur, render_s=render_s, rtf_render=dur / render_s, rtf_process=dur / entry["wall_s"],
                     rtf_cpu=dur / entry["cpu_s"], lufs_target=sm[0]["gain_db"] != 0.0)
        res["chapters"][s.name] = entry
        log(f"album {s.name:<28} {dur:6.1f} s audio: render {render_s:6.2f} s = {dur / render_s:5.1f}x real time "
            f"(process wall {entry['wall_s']:.2f} s, cpu {entry['cpu_s']:.2f} s, peak {entry['peak_rss_mb']:.0f} MB)")
    total = sum(c["duration_s"] for c in res["chapters"].values())
    jobs = {1: [], 2: []}
    for r in range(cfg.album_repeats):
        for j in ((1, 2) if r % 2 == 0 else (2, 1)):
            out = wdir / f"jobs{j}"
            run = run_measured([venv_bin("symphony"), "render", *map(str, scores), "--out-dir", str(out),
                                "--jobs", str(j), "--json"], env=env)
            jobs[j].append(run)
            log(f"album --jobs {j}: wall {run['wall_s']:.2f} s ({total / run['wall_s']:.1f}x real time), "
                f"cpu {run['cpu_s']:.2f} s")
    identical = all(audio_digest(wdir / "jobs1" / p.name) == audio_digest(wdir / "jobs2" / p.name)
                    for p in sorted((wdir / "jobs1").glob("*.wav")))
    res["album"] = {"audio_s": total, "jobs1": summarize(jobs[1]), "jobs2": summarize(jobs[2]),
                    "speedup_jobs2": median(r["wall_s"] for r in jobs[1]) / median(r["wall_s"] for r in jobs[2]),
                    "bit_identical": identical}
    res["album"]["rtf_jobs1"] = total / res["album"]["jobs1"]["wall_s"]
    res["album"]["rtf_jobs2"] = total / res["album"]["jobs2"]["wall_s"]
    log(f"album: --jobs 2 is {res['album']['speedup_jobs2']:.2f}x faster than --jobs 1; bit-identical: {identical}")
    # live: time to first audio and a run at a 128-frame buffer
    if not play_available():
        res["live"] = {"pending": "symphony play or jackd is not available"}
        return res
    from symphony.catalog import load
    live = {"buffer": LIVE_BUFFER, "chapters": {}}
    ring_slots = _live_attr("ring_slots")
    if ring_slots is not None:
        live["ring_frames_at_48k"] = ring_slots(LIVE_BUFFER, 48000) * LIVE_BUFFER
        live["ring_seconds_setting"] = _live_attr("RING_SECONDS")
    rates = sorted({load(str(s)).sample_rate for s in scores})
    for rate in rates:
        jack = JackDummy(rate, LIVE_BUFFER)
        try:
            for s in scores:
                if load(str(s)).sample_rate != rate:
                    continue
                runs = [live_run(s, jack, env, cfg.live_seconds) for _ in range(cfg.live_repeats)]
                ok = [r for r in runs if "underruns" in r]
                entry = {"runs": runs, "sample_rate": rate,
                         "time_to_first_audio_s": median(r["time_to_first_audio_s"] for r in runs
                                                         if r["time_to_first_audio_s"] is not None)
                         if any(r["time_to_first_audio_s"] for r in runs) else None}
                if ok:
                    entry["underruns"] = max(r["underruns"] for r in ok)
                    for key, agg in (("worst_pct", max), ("p99_pct", median), ("median_pct", median),
                                     ("mean_pct", median)):
                        vals = [r[key] for r in ok if key in r]
                        if vals:
                            entry[key] = agg(vals)
                # output latency: the ring the renderer keeps full + JACK's 2 periods
                if ring_slots is not None:
                    ring = ring_slots(LIVE_BUFFER, rate) * LIVE_BUFFER
                    entry["output_latency_ms"] = 1000.0 * (ring + 2 * LIVE_BUFFER) / rate
                    entry["device_latency_ms"] = 1000.0 * 2 * LIVE_BUFFER / rate
                for r in entry["runs"]:
                    r.pop("stderr_tail", None) if "underruns" in r else None
                live["chapters"][s.name] = entry
                log(f"live {s.name:<28} first audio {entry['time_to_first_audio_s']} s, underruns "
                    f"{entry.get('underruns')}, worst block {entry.get('worst_pct')} %")
        finally:
            jack.close()
    live["seconds_played"] = cfg.live_seconds
    res["live"] = live
    return res


# ----------------------------------------------------------------------------- part 3: headroom
HEADROOM_SNIPPET = r"""
import gc, json, sys, time
import numpy as np
from symphony.catalog import load
path, seconds = sys.argv[1], float(sys.argv[2])
sizes = [int(s) for s in sys.argv[3].split(",")]
score = load(path)
out = {}
LiveEngine = None
for mod in ("symphony.live", "symphony.live.engine"):
    try:
        LiveEngine = __import__(mod, fromlist=["LiveEngine"]).LiveEngine
        break
    except (ImportError, AttributeError):
        pass
for bs in sizes:
    if LiveEngine is not None:
        eng = LiveEngine(score, sample_rate=score.sample_rate, block_size=bs)
        sr = eng.sample_rate
        total = eng.conductor.n_frames if hasattr(eng, "conductor") else None
        buf = np.zeros((2, bs), dtype=np.float32)
        render = lambda: eng.render(buf)
        engine = "LiveEngine.render"
    else:
        from symphony.conductor import Conductor
        c = Conductor(score); sr = c.sample_rate
        chain = c.master_chain()
        it = c.blocks(bs)
        def render():
            b = next(it, None)
            if b is None:
                return 0
            chain.process(b.mix).astype(np.float32)
            return b.mix.shape[1]
        engine = "Conductor.blocks + master chain"
    limit = int(seconds * sr) if seconds > 0 else None
    times = []
    cpu = []
    frames = 0
    while True:
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        got = render()
        t1 = time.perf_counter_ns()
        c1 = time.thread_time_ns()
        if not got:
            break
        times.append(t1 - t0)
        cpu.append(c1 - c0)
        frames += got
        if limit is not None and frames >= limit:
            break
    keep = slice(0, -1) if len(times) > 1 else slice(None)  # the last block may be short
    t = np.array(times[keep], dtype=np.float64) / 1e9
    u = np.array(cpu[keep], dtype=np.float64) / 1e9
    block_s = bs / sr
    out[str(bs)] = {"blocks": int(t.size), "median_pct": 100 * float(np.median(t)) / block_s,
                    "p99_pct": 100 * float(np.percentile(t, 99)) / block_s, "max_pct": 100 * float(t.max()) / block_s,
                    "over_100_pct": int((t > block_s).sum()), "first_block_pct": 100 * float(t[0]) / block_s,
                    "max_after_first_pct": 100 * float(t[1:].max()) / block_s if t.size > 1 else None,
                    "cpu_median_pct": 100 * float(np.median(u)) / block_s,
                    "cpu_p99_pct": 100 * float(np.percentile(u, 99)) / block_s,
                    "cpu_max_pct": 100 * float(u.max()) / block_s, "cpu_over_100_pct": int((u > block_s).sum()),
                    "engine": engine, "chunk_frames": getattr(eng, "chunk_size", bs) if LiveEngine else bs}
    # The engine may render several blocks per call (a chunk) and then only copy: what must
    # keep up is the render time summed over a window, against the window's duration. A
    # ring (plus device buffer) of W seconds absorbs any window shorter than W.
    for window_ms in (20, 150):
        k = max(1, int(round(window_ms / 1000 * sr / bs)))
        for key, arr in (("wall", t), ("cpu", u)):
            if arr.size >= k:
                c = np.concatenate([[0.0], np.cumsum(arr[1:])])  # after the first block (set-up)
                sums = c[k:] - c[:-k] if c.size > k else c[-1:]
                out[str(bs)][f"{key}_max_{window_ms}ms_window_pct"] = 100 * float(sums.max()) / (k * block_s)
print(json.dumps(out))
"""


def part_headroom(cfg, work: Path, env: dict, log) -> dict:
    res = {"block_sizes": list(BLOCK_SIZES), "seconds": cfg.headroom_seconds, "chapters": {}}
    for s in chapter_scores():
        r = run_measured([venv_bin("python"), "-c", HEADROOM_SNIPPET, str(s), str(cfg.headroom_seconds),
                          ",".join(map(str, BLOCK_SIZES))], env=env)
        res["chapters"][s.name] = json.loads(r["stdout"].strip().splitlines()[-1])
        for bs, d in res["chapters"][s.name].items():
            log(f"headroom {s.name:<28} {bs:>4} frames: median {d['median_pct']:5.1f} %  p99 {d['p99_pct']:6.1f} %  "
                f"max {d['max_pct']:7.1f} %  ({d['over_100_pct']} of {d['blocks']} blocks over 100 %)")
    return res


# ----------------------------------------------------------------------------- part 4: memory
def part_memory(cfg, work: Path, env: dict, log) -> dict:
    res = {"minutes": list(cfg.memory_minutes), "runs": {}}
    for minutes in cfg.memory_minutes:
        wdir = work / f"mem-{minutes:g}"
        paths = reference.write_workload(wdir, 16, 60.0 * minutes)
        r = symphony_render(paths["symphony"], wdir / "out", env)
        res["runs"][f"{minutes:g}"] = {"peak_rss_mb": r["peak_rss_mb"], "wall_s": r["wall_s"], "cpu_s": r["cpu_s"],
                                       "render_s": r["summary"]["render_seconds"]}
        log(f"memory {minutes:g} min: peak RSS {r['peak_rss_mb']:.1f} MB (wall {r['wall_s']:.1f} s)")
        shutil.rmtree(wdir, ignore_errors=True)
    a, b = (res["runs"][f"{m:g}"]["peak_rss_mb"] for m in cfg.memory_minutes[:2])
    res["ratio"] = b / a
    return res


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument("--quick", action="store_true",
                    help="short runs for building/validating the harness (10 s workload, 1 repeat, "
                         "10 s per chapter, 1 and 6 min for memory)")
    ap.add_argument("--seconds", type=float, default=None, help="reference workload length [60]")
    ap.add_argument("--repeats", type=int, default=None, help="repeats of the 16-voice comparison [5]")
    ap.add_argument("--write-doc", action="store_true", help="update docs/benchmarks.md afterwards")
    ap.add_argument("--note", default=None, help="a remark printed with the results (e.g. 'measured under load')")
    ap.add_argument("--scores", default=None, metavar="GLOB",
                    help="album scores, relative to the repository [scores/NN-*.toml, else scores/*.toml]")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (renders) for inspection")
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts: {', '.join(sorted(unknown))}")
    q = args.quick
    global SCORES_GLOB
    SCORES_GLOB = args.scores
    cfg = argparse.Namespace(
        seconds=args.seconds or (10.0 if q else 60.0),
        repeats=args.repeats or (1 if q else 5),
        scaling_repeats=1 if q else 3,
        voices=reference.VOICE_COUNTS,
        album_repeats=1 if q else 3,
        live_seconds=10.0 if q else 60.0,
        headroom_seconds=10.0 if q else 60.0,  # per chapter; 0 = whole chapters
        live_repeats=1,
        memory_minutes=(1.0, 6.0) if q else (5.0, 60.0),
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    latest = RESULTS_DIR / "latest.json"
    results = json.loads(latest.read_text()) if latest.exists() else {}
    results["machine"] = machine()
    results["config"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()}
    results["config"]["quick"] = q
    results["note"] = args.note  # a note belongs to one run: None clears an earlier one
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the work folder on kill
    work = Path(tempfile.mkdtemp(prefix="symphony-bench-"))
    env = bench_env()
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:7.1f} s] {msg}", flush=True)

    try:
        warm_up(env, work, log)
        for part in PARTS:
            if part not in parts:
                continue
            log(f"--- {part}")
            if part == "compare":
                results["compare"] = part_compare(cfg, work, env, log)
            elif part == "quality":
                if "compare" not in parts:
                    results["compare"] = part_compare(cfg, work, env, log)
                results["quality"] = part_quality(cfg, results["compare"], log)
            elif part == "profile":
                results["profile"] = part_profile(cfg, work, env, log)
            elif part == "album":
                results["album"] = part_album(cfg, work, env, log)
            elif part == "headroom":
                results["headroom"] = part_headroom(cfg, work, env, log)
            elif part == "memory":
                results["memory"] = part_memory(cfg, work, env, log)
            results.setdefault("measured_parts", {})[part] = {
                "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "quick": q,
                "load_average": list(os.getloadavg()), "config": results["config"]}
            # merge into what is on disk now: another run may have stored other parts meanwhile
            stored = json.loads(latest.read_text()) if latest.exists() else {}
            stored.setdefault("measured_parts", {})[part] = results["measured_parts"][part]
            for key in ("machine", "config", "note", part, *(("compare",) if part == "quality" else ())):
                if key in results:
                    stored[key] = results[key]
            if stored.get("note") is None:
                stored.pop("note", None)
            results = stored
            tmp = latest.with_suffix(".tmp")
            tmp.write_text(json.dumps(results, indent=1, default=float))
            os.replace(tmp, latest)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.write_doc:
        import report
        report.write(results)
        print(f"updated {report.DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
