"""Calibration table of docs/fingerprints.md: symphony's verdicts next to Chromaprint's.

Renders the calibration excerpt (8 s of scores/example-01-foundry.toml from bar 9 at
22050 Hz) and each perturbation of ``symphony.fingerprint.calibration``, then for every pair:

- symphony: ``compare`` verdict, similarity, the first findings (where);
- a bit-exact hash: whether the float32 samples have the same sha256;
- Chromaprint (``fpcalc -raw``, Debian ``libchromaprint-tools``): the bit error rate (BER)
  between the raw 32-bit sub-fingerprints, at the best alignment within +-3 sub-fingerprints;
  verdict "same" when BER < 0.35, the match threshold of Haitsma & Kalker, "A Highly
  Robust Audio Fingerprinting System" (ISMIR 2002), which Chromaprint's design follows.

Usage::

    .venv/bin/python benchmarks/chromaprint_table.py                 # print the table
    .venv/bin/python benchmarks/chromaprint_table.py --write docs/fingerprints.md

``--write`` replaces the text between ``<!-- calibration-table:start -->`` and
``<!-- calibration-table:end -->``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from symphony.catalog import load  # noqa: E402
from symphony.fingerprint import Tolerances, compare, fingerprint_audio  # noqa: E402
from symphony.fingerprint.audio import audio_sha256, score_info, unnormalized, write_temporary_wav  # noqa: E402
from symphony.fingerprint.calibration import Excerpt, calibration_cases  # noqa: E402

SCORE = REPO / "scores" / "example-01-foundry.toml"
EXCERPT = Excerpt(start_bar=9, seconds=8.0)
BER_MATCH = 0.35
MAX_SHIFT = 3
START, END = "<!-- calibration-table:start -->", "<!-- calibration-table:end -->"


def chromaprint_raw(path: Path) -> np.ndarray:
    """Raw sub-fingerprints (uint32) of an audio file from ``fpcalc -raw``."""
    # fpcalc may exit non-zero after printing the fingerprint ("Error decoding audio frame
    # (End of file)" at the end of some WAV files), so the output decides, not the status.
    proc = subprocess.run(["fpcalc", "-raw", str(path)], capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("FINGERPRINT=")]
    if not lines:
        raise RuntimeError(f"fpcalc failed on {path}: {proc.stderr.strip()}")
    line = lines[0]
    return np.array([int(v) & 0xFFFFFFFF for v in line.split("=", 1)[1].split(",") if v], dtype=np.uint32)


def bit_error_rate(a: np.ndarray, b: np.ndarray, max_shift: int = MAX_SHIFT) -> float:
    """Lowest fraction of differing bits over alignments within +-``max_shift`` items."""
    best = 1.0
    for shift in range(-max_shift, max_shift + 1):
        x, y = (a[shift:], b) if shift >= 0 else (a, b[-shift:])
        n = min(x.size, y.size)
        if n < 8:
            continue
        diff = np.bitwise_xor(x[:n], y[:n])
        bits = np.unpackbits(diff.view(np.uint8)).sum()
        best = min(best, float(bits) / (32.0 * n))
    return best


def build_rows() -> tuple[list[dict], dict]:
    score = load(SCORE)
    started = time.perf_counter()
    reference = EXCERPT.render(unnormalized(score))
    # label findings with the score's bars: the excerpt starts at its first bar
    from symphony.conductor import Conductor

    start_s = Conductor(score, sample_rate=EXCERPT.sample_rate).frame_of_bar(EXCERPT.start_bar) / EXCERPT.sample_rate
    fp_reference = fingerprint_audio(reference, EXCERPT.sample_rate, source={"start_seconds": start_s},
                                     score=score_info(score))
    have_fpcalc = shutil.which("fpcalc") is not None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ref_raw = chromaprint_raw(write_temporary_wav(reference, EXCERPT.sample_rate, tmp)) if have_fpcalc else None
        for case, make in calibration_cases(score, EXCERPT):
            audio = make(reference)
            result = compare(fingerprint_audio(audio, EXCERPT.sample_rate), fp_reference)
            row = {"case": case, "same": result.same, "similarity": result.similarity,
                   "where": [f"{f.where} {f.kind}: {f.detail}" for f in result.findings],
                   "hash_equal": audio_sha256(audio) == audio_sha256(reference), "stats": result.stats}
            if have_fpcalc:
                ber = bit_error_rate(chromaprint_raw(write_temporary_wav(audio, EXCERPT.sample_rate, tmp)), ref_raw)
                row["ber"] = ber
            rows.append(row)
    info = {"seconds": time.perf_counter() - started, "fpcalc": _fpcalc_version() if have_fpcalc else None,
            "n_subfingerprints": int(ref_raw.size) if ref_raw is not None else 0}
    return rows, info


def _fpcalc_version() -> str:
    out = subprocess.run(["fpcalc", "-version"], capture_output=True, text=True).stdout.strip()
    return out.split("(")[0].strip()


def _short(text: str, limit: int = 110) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def format_table(rows: list[dict], info: dict) -> str:
    lines = ["| perturbation | expected | symphony | similarity | where (first finding) | sha256 equal | "
             "Chromaprint BER | Chromaprint |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        case = r["case"]
        verdict = "same" if r["same"] else "differs"
        ok = "" if verdict == case.expected else " **(wrong)**"
        where = _short(r["where"][0], 130).replace("|", "/") if r["where"] else "-"
        if "ber" in r:
            cp = "same" if r["ber"] < BER_MATCH else "differs"
            cp_ok = "" if cp == case.expected else " (wrong)"
            ber = f"{r['ber']:.3f}"
        else:
            cp, cp_ok, ber = "n/a", "", "n/a"
        lines.append(f"| {case.name} — {case.description} | {case.expected} | {verdict}{ok} | "
                     f"{r['similarity']:.3f} | {where} | {'yes' if r['hash_equal'] else 'no'} | {ber} | {cp}{cp_ok} |")
    right = sum(("same" if r["same"] else "differs") == r["case"].expected for r in rows)
    cp_right = sum((("same" if r["ber"] < BER_MATCH else "differs") == r["case"].expected) for r in rows if "ber" in r)
    hash_right = sum((("same" if r["hash_equal"] else "differs") == r["case"].expected) for r in rows)
    lines.append("")
    lines.append(f"Right verdicts: symphony {right}/{len(rows)}, bit-exact sha256 {hash_right}/{len(rows)}, "
                 f"Chromaprint {cp_right if info['fpcalc'] else 'n/a'}/{len(rows)} "
                 f"({info['fpcalc'] or 'fpcalc not installed'}; {info['n_subfingerprints']} sub-fingerprints "
                 f"per excerpt). Generated by "
                 f"`.venv/bin/python benchmarks/chromaprint_table.py --write docs/fingerprints.md`.")
    lines.append("")
    lines.append("Decision statistics (the largest over the excerpt; tolerances in `Tolerances`; unpaired "
                 "strong onsets, which also decide, are listed under \"where\"):")
    lines.append("")
    tol = Tolerances()
    keys = [("level_db", "level dB", tol.level_db), ("cell_mean_db_max", "cell mean dB", tol.cell_mean_db),
            ("cell_rms_db_max", "cell rms dB", tol.cell_rms_db),
            ("chroma_rms_db_max", "chroma rms dB", tol.chroma_rms_db),
            ("balance_db_max", "balance dB", tol.balance_db), ("timing_rms_max", "timing rms ms", tol.timing_ms),
            ("tuning_rms_max", "tuning rms st", tol.pitch_semitones),
            ("onset_moved_ms_max", "strong onset moved ms", tol.onset_ms)]
    lines.append("| perturbation | " + " | ".join(f"{label} (tol {tol:g})" for _, label, tol in keys)
                 + " | largest statistic / tolerance |")
    lines.append("|---|" + "---|" * (len(keys) + 1))
    for r in rows:
        values = " | ".join(f"{abs(r['stats'].get(k, 0.0)):.2f}" for k, _, _ in keys)
        ratio = max(abs(r["stats"].get(k, 0.0)) / tol for k, _, tol in keys)
        lines.append(f"| {r['case'].name} | {values} | {ratio:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="Markdown file whose marked table is replaced.")
    args = parser.parse_args()
    rows, info = build_rows()
    table = format_table(rows, info)
    if args.write:
        text = args.write.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
        if not pattern.search(text):
            print(f"{args.write}: no {START} ... {END} markers", file=sys.stderr)
            return 2
        args.write.write_text(pattern.sub(lambda m: f"{START}\n{table}\n{END}", text), encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
