"""Write the measured tables of ``docs/benchmarks.md`` from ``benchmarks/results/latest.json``.

Replaces the text between ``<!-- bench:start -->`` and ``<!-- bench:end -->``; the prose
around the markers (method, what limits the misses) is kept as written.

Usage::

    .venv/bin/python benchmarks/report.py            # from benchmarks/results/latest.json
    .venv/bin/python benchmarks/report.py --print    # show the tables, do not write
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOC = REPO / "docs" / "benchmarks.md"
RESULTS = HERE / "results" / "latest.json"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

#: Targets of the issue.
TARGET_RATIO = 1.0
TARGET_RTF = 30.0
TARGET_LATENCY_MS = 20.0
TARGET_MEMORY_RATIO = 1.2
TARGET_JOBS_SPEEDUP = 1.8


def _f(x, fmt="{:.2f}", none="–") -> str:
    return none if x is None else fmt.format(x)


def _verdict(ok) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def _quick(results: dict, part: str) -> bool:
    return bool(results.get("measured_parts", {}).get(part, {}).get("quick"))


def tables(results: dict) -> str:
    out: list[str] = []
    m = results.get("machine", {})
    v = m.get("versions", {})
    note = results.get("note")
    out.append("### Machine and date\n")
    out.append(f"- {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB RAM; "
               f"{m.get('os', '?')}, Linux {m.get('kernel', '?')}")
    out.append(f"- Python {v.get('python', '?')}, numpy {v.get('numpy', '?')}, scipy {v.get('scipy', '?')}, "
               f"numba {v.get('numba', '?')}, symphony {v.get('symphony', '?')}, Csound {v.get('csound', '?')}")
    parts = results.get("measured_parts", {})
    if parts:
        rows = ", ".join(f"{p} {d['date_utc']} (load {d['load_average'][0]:.1f}{', quick' if d.get('quick') else ''})"
                         for p, d in parts.items())
        out.append(f"- measured: {rows}")
    if note:
        out.append(f"- **{note}**")
    out.append("")

    # ---- targets
    comp = results.get("compare", {})
    v16 = comp.get("voices", {}).get("16", {})
    album = results.get("album", {})
    mem = results.get("memory", {})
    live = album.get("live", {})
    out.append("### Targets\n")
    out.append("| target | measured | verdict |")
    out.append("|---|---|---|")
    r_moog = v16.get("ratio_vs_moogladder2", {})
    r_zdf = v16.get("ratio_vs_zdf_ladder", {})
    if r_moog:
        out.append(f"| reference workload, symphony / Csound `moogladder2` wall time <= {TARGET_RATIO:g} | "
                   f"{r_moog['wall_s']:.2f} (CPU time {r_moog['cpu_s']:.2f}) | {_verdict(r_moog['wall_s'] <= TARGET_RATIO)} |")
    if r_zdf:
        out.append(f"| next mark: symphony / Csound `zdf_ladder` (linear) wall time | {r_zdf['wall_s']:.2f} "
                   f"(CPU time {r_zdf['cpu_s']:.2f}) | {_verdict(r_zdf['wall_s'] <= TARGET_RATIO)} |")
    out.append("| next mark: symphony / SuperCollider `scsynth -N` | not measured (see below) | – |")
    chapters = album.get("chapters", {})
    if chapters:
        worst = min(chapters.items(), key=lambda kv: kv[1]["rtf_render"])
        out.append(f"| every chapter >= {TARGET_RTF:g}x real time on one core | slowest: {worst[0]} "
                   f"{worst[1]['rtf_render']:.1f}x (render), {worst[1]['rtf_process']:.1f}x (whole process), "
                   f"{worst[1]['rtf_cpu']:.1f}x per CPU second | "
                   f"{_verdict(all(c['rtf_render'] >= TARGET_RTF for c in chapters.values()))} |")
    lc = live.get("chapters", {})
    if lc:
        under = [c.get("underruns") for c in lc.values()]
        lat = [c.get("output_latency_ms") for c in lc.values() if c.get("output_latency_ms") is not None]
        ok_under = all(u == 0 for u in under) if None not in under else None
        out.append(f"| every chapter live at a {live.get('buffer')}-frame buffer with 0 underruns | "
                   f"underruns per chapter: {', '.join(str(u) for u in under)} "
                   f"({live.get('seconds_played', '?'):g} s each) | {_verdict(ok_under)} |")
        if lat:
            w = max((c for c in lc.values() if c.get("output_latency_ms") is not None),
                    key=lambda c: c["output_latency_ms"])
            out.append(f"| total output latency <= {TARGET_LATENCY_MS:g} ms | {w['output_latency_ms']:.1f} ms "
                       f"(ring {w['output_latency_ms'] - w['device_latency_ms']:.1f} ms + device "
                       f"{w['device_latency_ms']:.1f} ms) | {_verdict(max(lat) <= TARGET_LATENCY_MS)} |")
    elif live.get("pending"):
        out.append(f"| every chapter live at a 128-frame buffer, 0 underruns, <= 20 ms | pending: {live['pending']} | – |")
    if mem.get("ratio") is not None:
        a, b = mem["minutes"][:2]
        out.append(f"| peak RSS of {b:g} min <= {TARGET_MEMORY_RATIO:g}x that of {a:g} min | {mem['ratio']:.2f}x | "
                   f"{_verdict(mem['ratio'] <= TARGET_MEMORY_RATIO)} |")
    al = album.get("album")
    if al:
        out.append(f"| album `--jobs 2` >= {TARGET_JOBS_SPEEDUP:g}x faster than `--jobs 1` | {al['speedup_jobs2']:.2f}x | "
                   f"{_verdict(al['speedup_jobs2'] >= TARGET_JOBS_SPEEDUP)} |")
        out.append(f"| `--jobs 2` bit-identical to `--jobs 1` | {'yes' if al['bit_identical'] else 'NO'} | "
                   f"{_verdict(al['bit_identical'])} |")
    out.append("")

    # ---- compare
    if comp.get("voices"):
        out.append("### 1. Reference workload, symphony and Csound side by side\n")
        out.append(f"{comp['seconds']:g} s at 48 kHz stereo; medians of {comp['repeats']} alternating runs at 16 voices "
                   f"(fewer at 8, 32, 64: see `n`). Wall and CPU time (user + sys) and peak RSS of the whole "
                   f"process, start-up included; *render* is symphony's own render time (after imports and "
                   f"score loading). Csound: `ksmps = {comp.get('ksmps', 32)}`, audio-rate envelopes and cutoff."
                   + (" **Reduced settings (fewer repeats or a shorter workload than `make bench`).**"
                      if comp["seconds"] < 60 or comp["repeats"] < 5 else "") + "\n")
        out.append("| voices | engine | n | wall s | CPU s | peak RSS MB | symphony / this: wall | CPU | RSS |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for voices in sorted(comp["voices"], key=int):
            e = comp["voices"][voices]
            s = e["symphony"]
            out.append(f"| {voices} | symphony | {s['n']} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} | {s['peak_rss_mb']:.0f} | "
                       f"render {s['render_s']:.2f} s = {comp['seconds'] / s['render_s']:.1f}x real time | | |")
            for f in ("moogladder2", "zdf_ladder"):
                if f in e:
                    c, r = e[f], e[f"ratio_vs_{f}"]
                    out.append(f"| {voices} | Csound `{f}` | {c['n']} | {c['wall_s']:.2f} | {c['cpu_s']:.2f} | "
                               f"{c['peak_rss_mb']:.0f} | **{r['wall_s']:.2f}** | {r['cpu_s']:.2f} | {r['peak_rss_mb']:.2f} |")
        cold = comp.get("cold_start")
        if cold:
            warm = v16.get("symphony", {})
            out.append(f"\nCold start (empty numba cache, 16 voices): {cold['wall_s']:.1f} s wall, {cold['cpu_s']:.1f} s CPU "
                       f"(warm: {warm.get('wall_s', float('nan')):.1f} s wall, {warm.get('cpu_s', float('nan')):.1f} s CPU): "
                       f"about {cold['cpu_s'] - warm.get('cpu_s', 0):.0f} s of CPU compiling the numba kernels once "
                       f"per machine (cached in `__pycache__` afterwards).")
        out.append("")

    q = results.get("quality", {})
    if q.get("symphony"):
        out.append("### Quality of the two outputs (16 voices)\n")
        out.append("| engine | integrated LUFS | true peak dBTP | clicks (away from onsets) | spectral centroid Hz | L/R correlation |")
        out.append("|---|---|---|---|---|---|")
        for name in ("symphony", "moogladder2", "zdf_ladder"):
            if name in q:
                d = q[name]
                out.append(f"| {name} | {d['integrated_lufs']:.2f} | {d['true_peak_dbtp']:.2f} | {d['clicks_total']} "
                           f"({d['clicks_away_from_onsets']}) | {d['spectral_centroid_hz']:.0f} | {d['lr_correlation']:.2f} |")
        centres = q.get("band_centres_hz", [])
        if centres:
            out.append("\nLong-term spectrum, octave bands (dB re total power), symphony minus Csound:\n")
            out.append("| band Hz | " + " | ".join(f"{c:g}" for c in centres) + " |")
            out.append("|---|" + "---|" * len(centres))
            for f in ("moogladder2", "zdf_ladder"):
                d = q.get(f"band_diff_vs_{f}_db")
                if d:
                    out.append(f"| vs `{f}` | " + " | ".join(f"{x:+.1f}" for x in d) + " |")
            if q.get("plot"):
                out.append(f"\n![long-term spectrum](../{q['plot']})")
        out.append("")

    prof = results.get("profile", {})
    if prof.get("render"):
        r = prof["render"]
        out.append("### Where symphony's time goes (16-voice reference, cProfile on CPU time, own time)\n")
        out.append(f"Render {r['cpu_s']:.2f} s CPU for {r['audio_s']:.0f} s of audio (without the profiler's overhead "
                   f"the render is faster; the shares are what matters).\n")
        out.append("| share | own time s | calls | function |")
        out.append("|---|---|---|---|")
        for row in r["top"][:12]:
            out.append(f"| {100 * row['share']:.1f} % | {row['tottime_s']:.3f} | {row['calls']} | `{row['function']}` |")
        if prof.get("chapters"):
            out.append("\nChapters (the first seconds of each, after a 1 s warm-up; the profile includes building "
                       "the whole chapter's timeline, which is where the `fractions` entries come from):")
        for name, c in prof.get("chapters", {}).items():
            top = ", ".join(f"`{t['function']}` {100 * t['share']:.0f} %" for t in c["top"][:6])
            out.append(f"\n{name} ({c['audio_s']:.0f} s, {c['cpu_s']:.2f} s CPU under the profiler): {top}.")
        imp = prof.get("imports")
        if imp:
            out.append(f"\nStart-up imports (CPU s, median of 3): numba {imp['numba_s']:.2f}, scipy.signal "
                       f"{imp['scipy_signal_s']:.2f}, symphony's own modules {imp['symphony_rest_s']:.2f}; "
                       f"total {imp['total_cpu_s']:.2f} s CPU ({imp['total_wall_s']:.2f} s wall).")
        out.append("")

    # ---- album
    if chapters:
        out.append("### 2. Album: real-time factor on one core\n")
        out.append("One render process per chapter, one numba/BLAS thread; medians of "
                   f"{album.get('repeats')} runs. *render*: symphony's own render time (both loudness passes "
                   "when the score sets `lufs`); *process*: the whole command, start-up included."
                   + (" **Quick run.**" if _quick(results, "album") else "") + "\n")
        out.append("*x CPU*: audio seconds per CPU second of the whole process, which load on the machine "
                   "does not inflate (an upper bound of the one-core real-time factor).\n")
        out.append("| chapter | audio s | render s | x real time (render) | x real time (process) | CPU s | x CPU | peak RSS MB |")
        out.append("|---|---|---|---|---|---|---|---|")
        for name, c in chapters.items():
            out.append(f"| {name} | {c['duration_s']:.1f} | {c['render_s']:.2f} | {c['rtf_render']:.1f} | "
                       f"{c['rtf_process']:.1f} | {c['cpu_s']:.2f} | {c['rtf_cpu']:.1f} | {c['peak_rss_mb']:.0f} |")
        if al:
            out.append(f"| **album, `--jobs 1`** | {al['audio_s']:.1f} | | | {al['rtf_jobs1']:.1f} | "
                       f"{al['jobs1']['cpu_s']:.2f} | {al['audio_s'] / al['jobs1']['cpu_s']:.1f} | {al['jobs1']['peak_rss_mb']:.0f} |")
            out.append(f"| **album, `--jobs 2`** | {al['audio_s']:.1f} | | | {al['rtf_jobs2']:.1f} | "
                       f"{al['jobs2']['cpu_s']:.2f} | {al['audio_s'] / al['jobs2']['cpu_s']:.1f} | {al['jobs2']['peak_rss_mb']:.0f} |")
            out.append(f"\n`--jobs 2` / `--jobs 1`: {al['speedup_jobs2']:.2f}x faster; the files are "
                       f"{'bit-identical' if al['bit_identical'] else 'NOT bit-identical'}.")
        if lc:
            out.append(f"\nLive (`symphony play --backend jack --buffer {live['buffer']}`, JACK dummy driver, "
                       f"{live.get('seconds_played', 0):g} s per chapter). *First audio*: from starting the command "
                       "to the player starting the audio stream with the ring full.\n")
            out.append("| chapter | first audio s | underruns | block time median / p99 / worst (% of block) | output latency ms |")
            out.append("|---|---|---|---|---|")
            for name, c in lc.items():
                out.append(f"| {name} | {_f(c.get('time_to_first_audio_s'))} | {c.get('underruns', '–')} | "
                           f"{_f(c.get('median_pct'), '{:.0f}')} / {_f(c.get('p99_pct'), '{:.0f}')} / "
                           f"{_f(c.get('worst_pct'), '{:.0f}')} | {_f(c.get('output_latency_ms'), '{:.1f}')} |")
        elif live.get("pending"):
            out.append(f"\nLive: pending ({live['pending']}).")
        out.append("")

    hr = results.get("headroom", {})
    if hr.get("chapters"):
        secs = hr.get("seconds") or 0
        out.append("### 3. Real-time headroom: render time per block, % of the block's duration\n")
        out.append(("Whole chapters" if not secs else f"First {secs:g} s of each chapter")
                   + ", one process, one thread; each block through the live engine (Conductor, master chain, "
                   "float32). 100 % = the block took as long as it plays.\n")
        out.append("*Wall*: elapsed time per block (what a live deadline sees; inflated by anything else "
                   "running on the machine). *CPU*: the render thread's own CPU time per block (robust to load).\n")
        chunk = next((d.get("chunk_frames") for per in hr["chapters"].values() for d in per.values()), None)
        if chunk:
            out.append(f"The live engine renders {chunk} frames per Conductor call and serves the blocks in "
                       "between by copying, so single blocks are bimodal; the *window* columns sum the render "
                       "time over any 20 ms / 150 ms stretch (after the first block) against its duration: "
                       "below 100 %, a ring of that length keeps up.\n")
        out.append("| chapter | block | wall median / p99 / max % | wall over 100 % | CPU median / p99 / max % | "
                   "CPU over 100 % | max 20 ms window wall / CPU % | max 150 ms window wall / CPU % |")
        out.append("|---|---|---|---|---|---|---|---|")
        for name, per in hr["chapters"].items():
            for bs, d in sorted(per.items(), key=lambda kv: int(kv[0])):
                cpu = (f"{d['cpu_median_pct']:.1f} / {d['cpu_p99_pct']:.1f} / {d['cpu_max_pct']:.0f} | "
                       f"{d['cpu_over_100_pct']} of {d['blocks']}") if "cpu_median_pct" in d else "– | –"
                win = " | ".join(f"{_f(d.get(f'wall_max_{w}ms_window_pct'), '{:.0f}')} / "
                                 f"{_f(d.get(f'cpu_max_{w}ms_window_pct'), '{:.0f}')}" for w in (20, 150))
                out.append(f"| {name} | {bs} | {d['median_pct']:.1f} / {d['p99_pct']:.1f} / {d['max_pct']:.0f} | "
                           f"{d['over_100_pct']} of {d['blocks']} | {cpu} | {win} |")
        out.append("")

    if mem.get("runs"):
        out.append("### 4. Memory: peak RSS against duration (reference material, 16 voices)\n")
        out.append("| duration | peak RSS MB | render s |")
        out.append("|---|---|---|")
        for minutes, d in mem["runs"].items():
            out.append(f"| {minutes} min | {d['peak_rss_mb']:.1f} | {d['render_s']:.1f} |")
        out.append(f"\nRatio: {mem['ratio']:.3f}.\n")
    return "\n".join(out).rstrip() + "\n"


def write(results: dict, doc: Path = DOC) -> None:
    text = doc.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{doc} lacks the {START} / {END} markers")
    new = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: f"{START}\n{tables(results)}{END}", text,
                 flags=re.S)
    doc.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--print", action="store_true", help="print the tables instead of writing the doc")
    args = ap.parse_args()
    results = json.loads(args.results.read_text())
    if args.print:
        sys.stdout.write(tables(results))
    else:
        write(results)
        print(f"updated {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
