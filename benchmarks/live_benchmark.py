"""Live playback benchmark: every chapter through a real JACK server (dummy driver).

For each score in ``scores/`` it starts ``symphony.live.play`` against a private
``jackd -d dummy -r 48000 -p 256`` and reports the underruns and the distribution of the
time the render process took per 256-frame block (median, p99, max), also as a share
of the 5.33 ms block. The target: zero underruns and p99 under half the block.

    .venv/bin/python benchmarks/live_benchmark.py [--seconds 60] [--period 256] [scores...]

Prints a Markdown table (paste it into docs/live.md, "Benchmark results"). The render
process is given its own core only as far as the machine allows: the load average is
printed with the results, because other processes on a small machine change them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_one(path: str, seconds: float | None) -> None:
    """Child mode: play one score, print the summary as JSON."""
    import numpy as np

    from symphony.live import PlaySettings, play
    from symphony.live.engine import RENDER_CHUNK

    summary = play(path, PlaySettings(osc_port=None, client_name="symphony-bench"),
                   echo=lambda text: None, stdin=open(os.devnull), status_stream=None,
                   max_seconds=seconds)
    t = summary.render_ms
    # The engine renders a chunk of ``per`` blocks on one call and copies on the next
    # ``per - 1``: the work per block is the chunk's time spread over its blocks.
    per = max(1, round(RENDER_CHUNK / round(summary.block_seconds * 48000)))
    work = t[:t.size // per * per].reshape(-1, per).sum(axis=1) / per
    print(json.dumps({"seconds": summary.seconds_played, "underruns": summary.underruns,
                      "block_ms": 1000 * summary.block_seconds, "blocks": int(t.size),
                      "cpu_mean_ms": float(summary.render_cpu_ms.mean()),
                      "cpu_p99_ms": float(np.percentile(summary.render_cpu_ms, 99)),
                      "work_median_ms": float(np.median(work)), "work_p99_ms": float(np.percentile(work, 99)),
                      "work_max_ms": float(work.max()),
                      "mean_ms": float(t.mean()), "median_ms": float(np.median(t)), "p99_ms": float(np.percentile(t, 99)),
                      "max_ms": float(t.max())}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", nargs="*")
    parser.add_argument("--seconds", type=float, default=None, help="play at most this long per score")
    parser.add_argument("--period", type=int, default=256)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return run_one(args.one, args.seconds)
    scores = args.scores or sorted(str(p) for p in (REPO / "scores").glob("*.toml"))
    jackd = shutil.which("jackd")
    if jackd is None:
        sys.exit("jackd is missing: bash scripts/install-system-deps.sh (Debian package jackd2)")
    name = f"symphony-bench-{os.getpid()}"
    server = subprocess.Popen([jackd, "-n", name, "-d", "dummy", "-r", "48000", "-p", str(args.period)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1", PYTHONPATH=str(REPO))
    rows = []
    try:
        deadline = time.monotonic() + 30
        while "system:playback_1" not in subprocess.run(["jack_lsp"], env=env, capture_output=True,
                                                         text=True).stdout:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("jackd did not start")
            time.sleep(0.2)
        for path in scores:
            load_before = os.getloadavg()[0]
            cmd = [sys.executable, __file__, "--one", path]
            if args.seconds:
                cmd += ["--seconds", str(args.seconds)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{path}: failed\n{out.stderr}", file=sys.stderr)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["score"] = Path(path).name
            r["load"] = (load_before + os.getloadavg()[0]) / 2
            rows.append(r)
            print(json.dumps(r), file=sys.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    block = rows[0]["block_ms"] if rows else 1000 * args.period / 48000
    print(f"JACK dummy driver, 48000 Hz, {args.period}-frame blocks ({block:.2f} ms); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| score | played | underruns | work per block: median | p99 | max | one call: p99 | max "
          "| CPU per call: mean | load avg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        pct = lambda ms: f"{ms:.2f} ms ({100 * ms / r['block_ms']:.0f} %)"  # noqa: E731
        print(f"| {r['score']} | {r['seconds']:.1f} s | {r['underruns']} | {pct(r['work_median_ms'])} | "
              f"{pct(r['work_p99_ms'])} | {pct(r['work_max_ms'])} | {pct(r['p99_ms'])} | {pct(r['max_ms'])} | "
              f"{pct(r['cpu_mean_ms'])} | {r['load']:.1f} |")


if __name__ == "__main__":
    main()
