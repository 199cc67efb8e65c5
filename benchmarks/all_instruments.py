"""All instruments together, 16 voices each: how far from real time?

Every registered instrument gets 16 sounding voices (the monophonic acid_bass one; drum
machines 16 hits spread over their voices, re-struck every beat so percussion keeps
sounding), and all render the same span at 48 kHz in blocks of ``--block`` frames (4096, the
offline render's block; 256 is a live buffer). Reports CPU seconds per second of audio per instrument and for the sum,
median of ``--repeats`` runs, and writes the table into docs/benchmarks.md between the
markers ``<!-- all-instruments:begin -->`` and ``<!-- all-instruments:end -->``.

Run: .venv/bin/python benchmarks/all_instruments.py [--seconds 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from symphony.instruments import REGISTRY  # noqa: E402

SAMPLE_RATE = 48000
VOICES = 16
BEGIN, END = "<!-- all-instruments:begin -->", "<!-- all-instruments:end -->"


def play(name: str, seconds: float, block: int) -> float:
    """CPU seconds to render ``seconds`` of instrument ``name`` with VOICES voices sounding."""
    cls = REGISTRY[name]
    inst = cls(SAMPLE_RATE, rng=np.random.default_rng(1), voices=VOICES)
    n_blocks = int(seconds * SAMPLE_RATE / block)
    beat = SAMPLE_RATE // 2  # re-strike percussion / re-voice chords every 0.5 s
    note_id = 0
    started = time.process_time()
    for b in range(n_blocks):
        frame = b * block
        if frame % beat < block:
            for k in range(VOICES if cls.DEFAULT_VOICES > 1 else 1):
                voice = cls.DRUM_VOICES[k % len(cls.DRUM_VOICES)] if cls.DRUM_VOICES else None
                pitch = 60.0 if voice else 43.0 + 2.0 * k
                inst.note_on(note_id, pitch, 0.8, voice)
                note_id += 1
                if note_id > VOICES:
                    inst.note_off(note_id - VOICES - 1)
        inst.process(block)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--block", type=int, default=4096)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    names = sorted(REGISTRY)
    for name in names:  # warm the numba caches (compile time is not render time)
        play(name, 0.2, args.block)
    rows = []
    for name in names:
        times = [play(name, args.seconds, args.block) for _ in range(args.repeats)]
        rows.append((name, statistics.median(times) / args.seconds))
    total = sum(cost for _, cost in rows)
    lines = [f"Measured {date.today().isoformat()} on {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}; {args.seconds:g} s of audio in "
             f"{args.block}-frame blocks, "
             f"median of {args.repeats}; load average at start {os.getloadavg()[0]:.1f}.",
             "", "| instrument | CPU s per s of audio (16 voices) | real-time factor |", "|---|---|---|"]
    lines += [f"| {name} | {cost:.4f} | {1 / cost:.0f}x |" for name, cost in rows]
    lines += [f"| **all {len(rows)} together** | **{total:.3f}** | **{1 / total:.1f}x** |"]
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return
    doc = REPO / "docs" / "benchmarks.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    block = (f"{BEGIN}\n## All instruments together, 16 voices each\n\n"
             f"Command: `.venv/bin/python benchmarks/all_instruments.py`\n\n{table}\n{END}")
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
