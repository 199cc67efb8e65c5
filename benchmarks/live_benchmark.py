"""Live playback benchmark: render chunks, render-ahead and underruns through a real JACK server.

Three measurements (issues 5 and 7), each printing a Markdown table for docs/live.md:

``--chunks``
    No audio server: the live engine renders ``--seconds`` of a score at each chunk size
    (frames per Conductor call); per chunk, the render time (thread CPU and wall) as a
    share of the chunk's duration. Shows how the per-call overhead is amortized.
``--sweep``
    One score through a private ``jackd -d dummy -r 48000 -p P`` for every period P in
    ``--periods`` and every render-ahead in ``--aheads`` (ms): underruns, JACK xruns,
    per-chunk render time and the audio callback's own time. Shows what ring depth this
    machine really needs.
(default)
    Every score in ``scores/`` (or the ones named) at one period and render-ahead:
    underruns, per-chunk render time (median, p99, max) and the callback's time.

    .venv/bin/python benchmarks/live_benchmark.py --chunks [--seconds 30] [score]
    .venv/bin/python benchmarks/live_benchmark.py --sweep --periods 128 256 --aheads 10 20 40 80 [score]
    .venv/bin/python benchmarks/live_benchmark.py [--seconds 45] [--period 256] [--ahead 300] [scores...]

Wall-time figures on a shared machine are noisy: the load average is printed with every
row, and CPU time (``time.thread_time``) is reported next to wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCORE = str(REPO / "scores" / "01-the-masters-of-work-and-play.toml")
SAMPLE_RATE = 48000


def _pct(ms: float, of_ms: float) -> str:
    return f"{ms:.2f} ms ({100 * ms / of_ms:.0f} %)"


# -- chunk sizes, no audio server ------------------------------------------------------
def chunk_table(path: str, seconds: float, block: int, chunks: list[int]) -> None:
    """Render ``seconds`` with the live engine at each chunk size, alternating sizes."""
    import numpy as np

    from symphony.catalog import load
    from symphony.live import LiveEngine

    score = load(path)
    stats: dict[int, dict[str, list]] = {c: {"cpu": [], "wall": []} for c in chunks}
    n_blocks = int(seconds * SAMPLE_RATE / block)
    for _ in range(2):  # two rounds, sizes alternating, so that load changes hit all alike
        for chunk in chunks:
            engine = LiveEngine(score, sample_rate=SAMPLE_RATE, block_size=block, chunk_size=chunk,
                                background=False)
            engine.warm_up()
            out = np.zeros((2, block), np.float32)
            for _ in range(n_blocks):
                if not engine.render(out):
                    break
            stats[chunk]["cpu"] += engine.chunk_cpu_seconds[1:]  # the first chunk builds the timeline
            stats[chunk]["wall"] += engine.chunk_seconds[1:]
            engine.close()
    print(f"Live engine, {Path(path).name}, {seconds:g} s x 2 rounds at {SAMPLE_RATE} Hz, "
          f"{block}-frame blocks; {_machine()}; load avg {os.getloadavg()[0]:.1f}\n")
    print("| chunk | chunk duration | CPU per chunk: median | p99 | max | CPU mean (share of real time) "
          "| wall p99 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for chunk in chunks:
        cpu = 1000 * np.asarray(stats[chunk]["cpu"])
        wall = 1000 * np.asarray(stats[chunk]["wall"])
        dur = 1000 * chunk / SAMPLE_RATE
        print(f"| {chunk} | {dur:.2f} ms | {_pct(np.median(cpu), dur)} | {_pct(np.percentile(cpu, 99), dur)} | "
              f"{_pct(cpu.max(), dur)} | {100 * cpu.mean() / dur:.0f} % | {_pct(np.percentile(wall, 99), dur)} |")


# -- playing through JACK --------------------------------------------------------------
def run_one(path: str, seconds: float | None, ahead_ms: float, chunk: int | None) -> None:
    """Child mode: play one score, print the summary as JSON."""
    import numpy as np

    from symphony.live import PlaySettings, play

    summary = play(path, PlaySettings(osc_port=None, client_name="symphony-bench", ahead_ms=ahead_ms,
                                      chunk_frames=chunk),
                   echo=lambda text: None, stdin=open(os.devnull), status_stream=None, max_seconds=seconds)
    c, cpu, cb = summary.chunk_ms, summary.chunk_cpu_ms, summary.callback_ms
    c = c[1:] if c.size > 1 else c  # the first chunk is rendered before playback starts
    cpu = cpu[1:] if cpu.size > 1 else cpu
    print(json.dumps({"seconds": summary.seconds_played, "underruns": summary.underruns,
                      "block_ms": 1000 * summary.block_seconds, "chunk_ms": 1000 * summary.chunk_seconds,
                      "ahead_ms": 1000 * summary.ahead_seconds,
                      "chunk_median_ms": float(np.median(c)), "chunk_p99_ms": float(np.percentile(c, 99)),
                      "chunk_max_ms": float(c.max()), "chunk_cpu_mean_ms": float(cpu.mean()),
                      "callback_median_us": float(1000 * np.median(cb)),
                      "callback_p99_us": float(1000 * np.percentile(cb, 99)),
                      "callback_max_us": float(1000 * cb.max())}))


class JackServer:
    """A private ``jackd -d dummy`` (unique name, only in the children's environment)."""

    def __init__(self, period: int) -> None:
        jackd = shutil.which("jackd")
        if jackd is None:
            sys.exit("jackd is missing: bash scripts/install-system-deps.sh (Debian package jackd2)")
        self.name = f"symphony-bench-{os.getpid()}-{period}"
        self.proc = subprocess.Popen([jackd, "-n", self.name, "-d", "dummy", "-r", str(SAMPLE_RATE),
                                      "-p", str(period)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_START_SERVER="1",
                        PYTHONPATH=str(REPO))
        deadline = time.monotonic() + 30
        while "system:playback_1" not in self.lsp():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                sys.exit("jackd did not start")
            time.sleep(0.2)

    def lsp(self, *args: str) -> str:
        return subprocess.run(["jack_lsp", *args], env=self.env, capture_output=True, text=True).stdout

    def playback_latency_frames(self) -> int | None:
        """The playback port's latency as JACK reports it (``jack_lsp -l``)."""
        text = self.lsp("-l")
        m = re.search(r"system:playback_1\s*\n\s*port playback latency = \[ *(\d+) *(\d+) *\]", text)
        return int(m.group(2)) if m else None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def play_in_child(server: JackServer, path: str, seconds: float | None, ahead_ms: float, chunk: int) -> dict | None:
    load_before = os.getloadavg()[0]
    cmd = [sys.executable, __file__, "--one", path, "--ahead", str(ahead_ms)]
    if chunk:
        cmd += ["--chunk", str(chunk)]
    if seconds:
        cmd += ["--seconds", str(seconds)]
    out = subprocess.run(cmd, env=server.env, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{path}: failed\n{out.stderr}", file=sys.stderr)
        return None
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["score"] = Path(path).name
    r["load"] = (load_before + os.getloadavg()[0]) / 2
    print(json.dumps(r), file=sys.stderr)
    return r


def _machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}"


def _row_tail(r: dict) -> str:
    c = r["chunk_ms"]
    return (f"{_pct(r['chunk_median_ms'], c)} | {_pct(r['chunk_p99_ms'], c)} | {_pct(r['chunk_max_ms'], c)} | "
            f"{100 * r['chunk_cpu_mean_ms'] / c:.0f} % | {r['callback_median_us']:.0f} / "
            f"{r['callback_p99_us']:.0f} / {r['callback_max_us']:.0f} us | {r['load']:.1f} |")


def sweep(path: str, seconds: float, periods: list[int], aheads: list[float], chunk: int) -> None:
    rows = []
    for period in periods:
        server = JackServer(period)
        try:
            latency = server.playback_latency_frames()
            for ahead in aheads:
                r = play_in_child(server, path, seconds, ahead, chunk)
                if r:
                    r["period"], r["jack_latency"] = period, latency
                    rows.append(r)
        finally:
            server.close()
    print(f"{Path(path).name}, first {seconds:g} s, JACK dummy driver at {SAMPLE_RATE} Hz, chunk "
          f"{chunk or 'min(1024, render-ahead)'} frames (rounded to whole periods); {_machine()}\n")
    print("| period | render-ahead | JACK playback latency | total | underruns | chunk time: median | p99 "
          "| max | CPU mean | callback median / p99 / max | load avg |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        jack_ms = 1000 * (r["jack_latency"] or 0) / SAMPLE_RATE
        print(f"| {r['period']} | {r['ahead_ms']:.1f} ms | {jack_ms:.1f} ms | {r['ahead_ms'] + jack_ms:.1f} ms | "
              f"{r['underruns']} | " + _row_tail(r))


def all_scores(scores: list[str], seconds: float | None, period: int, ahead: float, chunk: int) -> None:
    server = JackServer(period)
    rows = []
    try:
        for path in scores:
            r = play_in_child(server, path, seconds, ahead, chunk)
            if r:
                rows.append(r)
    finally:
        server.close()
    block = 1000 * period / SAMPLE_RATE
    print(f"JACK dummy driver, {SAMPLE_RATE} Hz, {period}-frame blocks ({block:.2f} ms), render-ahead "
          f"{rows[0]['ahead_ms'] if rows else ahead:.1f} ms, chunk {chunk or 'min(1024, render-ahead)'} frames; "
          f"{_machine()}\n")
    print("| score | played | underruns | chunk time: median | p99 | max | CPU mean | callback median / p99 "
          "/ max | load avg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['score']} | {r['seconds']:.1f} s | {r['underruns']} | " + _row_tail(r))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", nargs="*")
    parser.add_argument("--seconds", type=float, default=None, help="play at most this long per run")
    parser.add_argument("--period", type=int, default=256)
    parser.add_argument("--ahead", type=float, default=None, help="render-ahead, ms [default: the player's]")
    parser.add_argument("--chunk", type=int, default=None, help="frames per Conductor call [player's default]")
    parser.add_argument("--chunks", action="store_true", help="chunk-size table (no audio server)")
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096])
    parser.add_argument("--sweep", action="store_true", help="underruns vs render-ahead and period")
    parser.add_argument("--periods", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--aheads", type=float, nargs="+", default=[10, 20, 40, 80, 160])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from symphony.live.engine import DEFAULT_AHEAD_MS

    ahead = DEFAULT_AHEAD_MS if args.ahead is None else args.ahead
    chunk = args.chunk  # None: the player's default (chunk_for)
    if args.one:
        return run_one(args.one, args.seconds, ahead, chunk)
    if args.chunks:
        return chunk_table((args.scores or [DEFAULT_SCORE])[0], args.seconds or 30.0, args.period, args.chunk_sizes)
    if args.sweep:
        return sweep((args.scores or [DEFAULT_SCORE])[0], args.seconds or 30.0, args.periods, args.aheads, chunk)
    scores = args.scores or sorted(str(p) for p in (REPO / "scores").glob("*.toml"))
    all_scores(scores, args.seconds, args.period, ahead, chunk)


if __name__ == "__main__":
    main()
