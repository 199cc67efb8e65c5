"""The ``symphony`` command line: parse arguments, call one function, map errors to exit codes.

Exit status: 0 success, 1 render failure, 2 bad input (score or option), 130 interrupted.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click

from symphony import __version__
from symphony.errors import ParameterError, RenderError, ScoreError, SymphonyError
from symphony.limits import MAX_MINUTES, MAX_VOICES, LimitError, Limits

EXIT_RENDER_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _fail(message: str, status: int) -> "None":
    click.echo(message, err=True)
    sys.exit(status)


def _load(path: str):
    from symphony.catalog import load

    return load(path)


def _guarded(fn):
    """Run a command body; print errors without tracebacks and exit with their status."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ScoreError as exc:
            _fail(exc.format(), EXIT_BAD_INPUT)
        except LimitError as exc:
            _fail(exc.format(), EXIT_BAD_INPUT)
        except ParameterError as exc:
            _fail(f"error: {exc}", EXIT_BAD_INPUT)
        except RenderError as exc:
            _fail(f"error: {exc}", EXIT_RENDER_FAILED)
        except SymphonyError as exc:  # any other deliberate failure (e.g. live playback lost its renderer)
            _fail(f"error: {exc}", EXIT_RENDER_FAILED)
        except KeyboardInterrupt:
            _fail("interrupted: no file was written; any previous render is intact", EXIT_INTERRUPTED)
    return wrapper


def _limit_options(fn):
    """``--max-minutes``, ``--max-voices`` and ``--allow-large`` (see symphony.limits)."""
    fn = click.option("--allow-large", is_flag=True,
                      help="Lift every render limit (duration, voices, memory, time).")(fn)
    fn = click.option("--max-voices", type=click.IntRange(1), default=MAX_VOICES, show_default=True,
                      help="Refuse scores whose sections sum to more voices.")(fn)
    fn = click.option("--max-minutes", type=click.FloatRange(0, min_open=True), default=MAX_MINUTES,
                      show_default=True, help="Refuse renders longer than this (audio minutes).")(fn)
    return fn


def _limits(max_minutes: float, max_voices: int, allow_large: bool) -> Limits:
    return Limits.unlimited() if allow_large else Limits(max_minutes=max_minutes, max_voices=max_voices)


def _format_duration(seconds: float) -> str:
    minutes, sec = divmod(seconds, 60.0)
    return f"{int(minutes)}:{sec:04.1f}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="symphony")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def main(verbose: bool) -> None:
    """symphony: render generative electronic-symphonic chapter scores."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("scores", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_limit_options
@_guarded
def check(scores: tuple[str, ...], max_minutes: float, max_voices: int, allow_large: bool) -> None:
    """Validate score files (and the render limits) and print a one-line summary of each."""
    from symphony.conductor import Conductor
    from symphony.limits import check_limits

    limits = _limits(max_minutes, max_voices, allow_large)
    for path in scores:
        score = _load(path)
        check_limits(score, limits)
        conductor = Conductor(score)
        click.echo(f"{path}: ok - {score.number:02d} \"{score.title}\", {score.n_bars} bars, "
                   f"{_format_duration(conductor.duration_seconds)}, {len(score.sections)} sections "
                   f"({', '.join(s.name for s in score.sections)}), {len(score.passages)} passages, "
                   f"{len(score.notes)} notes")


@main.command()
@click.argument("score_path", metavar="SCORE", type=click.Path(dir_okay=False))
@_guarded
def info(score_path: str) -> None:
    """Show a score's tempo map, meters, sections, buses, passages and duration."""
    from symphony.conductor import Conductor

    score = _load(score_path)
    conductor = Conductor(score)
    tm = conductor.tempo_map
    click.echo(f"{score.number:02d}  {score.title}")
    click.echo(f"key {score.key}, seed {score.seed}, {score.sample_rate} Hz, {score.n_bars} bars, "
               f"{_format_duration(conductor.duration_seconds)} (incl. {score.tail_seconds:g} s tail)")
    click.echo("\ntempo map")
    for t in score.tempos:
        ramp = f" ramp over {float(t.ramp_beats):g} beats" if t.ramp_beats else ""
        click.echo(f"  bar {t.bar:>4}  {_format_duration(float(tm.seconds_at(t.start_beat))):>8}  "
                   f"-> {t.bpm:g} bpm{ramp}")
    click.echo("meters")
    for m in score.meters:
        click.echo(f"  bar {m.bar:>4}  {m.numerator}/{m.denominator}")
    click.echo("sections")
    for s in score.sections:
        sends = ", ".join(f"{k} {v:g}" for k, v in s.sends.items()) or "-"
        click.echo(f"  {s.name:<16} {s.instrument:<18} voices {s.voices:<3} gain {s.gain_db:+.1f} dB  "
                   f"pan {s.pan:+.2f}  sends {sends}")
    if score.buses:
        click.echo("buses")
        for b in score.buses:
            params = ", ".join(f"{k}={v}" for k, v in b.params.items())
            click.echo(f"  {b.name:<16} {b.effect:<10} gain {b.gain_db:+.1f} dB  {params}")
    click.echo("passages")
    for p in score.passages:
        start = float(tm.seconds_at(p.start_beat))
        end_bar, _ = score.beat_to_bar(p.end_beat)
        click.echo(f"  bars {p.bar:>3}-{end_bar - 1:<4} {_format_duration(start):>8}  {p.name:<24} "
                   f"{' + '.join(p.sections)}")


@main.command()
@click.argument("scores", nargs=-1, type=click.Path(dir_okay=False))
@click.option("-o", "--out-dir", default="renders", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the rendered files.")
@click.option("--album", is_flag=True,
              help="Also join the chapter scores (NN-name.toml) into OUT_DIR/album.<format>, each "
                   "mastered to --lufs (default -14) unless its score sets its own target. "
                   "Without SCORES: the chapters in scores/.")
@click.option("--format", "fmt", type=click.Choice(["wav", "flac"]), default="wav", show_default=True)
@click.option("--sr", "sample_rate", type=click.Choice(["44100", "48000", "96000", "22050", "88200"]),
              default=None, help="Output sample rate [default: the score's].")
@click.option("--bits", type=click.Choice(["16", "24", "32"]), default="24", show_default=True,
              help="16/24-bit PCM (16 with TPDF dither) or 32-bit float (WAV only).")
@click.option("--lufs", type=float, default=None,
              help="Normalize integrated loudness (ITU-R BS.1770) to this target [default: the score's].")
@click.option("--stems", is_flag=True, help="Also write one file per section and bus into <name>.stems/.")
@click.option("--seed", type=int, default=None, help="Override the score's seed.")
@click.option("--block-size", type=click.IntRange(1, 65536), default=16384, show_default=True)
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Render this many scores in parallel processes.")
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON.")
@click.option("--click", "make_click", is_flag=True,
              help="Also write <name>.click.wav: a click track (accented downbeats) on the solved tempo map.")
@click.option("--fingerprint", "make_fingerprint", is_flag=True,
              help="Also write <name>.fp, the render's fingerprint (named in the manifest).")
@click.option("--check-manifest", "check_manifest", is_flag=False, flag_value="", default=None,
              metavar="[MANIFEST]",
              help="Re-render into a temporary folder (writing nothing here) and check the result against "
                   "MANIFEST [default: OUT_DIR/<name>.manifest.json]; options given override the recorded "
                   "ones. Exit 0 matches, 1 differs, 2 bad input.")
@_limit_options
@_guarded
def render(scores, out_dir, album, fmt, sample_rate, bits, lufs, stems, seed, block_size, jobs, as_json,
           make_click, make_fingerprint, check_manifest, max_minutes, max_voices, allow_large) -> None:
    """Render score files to audio files in OUT_DIR (atomically), each with <name>.manifest.json;
    --album joins the chapters."""
    from symphony import album as albums
    from symphony.limits import check_disk_space, check_limits
    from symphony.render import RenderSettings

    if check_manifest is not None:
        overrides = _explicit_options(sample_rate=("sample_rate", int(sample_rate) if sample_rate else None),
                                      fmt=("format", fmt), bits=("bits", int(bits)), lufs=("lufs", lufs),
                                      stems=("stems", stems), seed=("seed", seed),
                                      block_size=("block_size", block_size))
        _check_manifest(scores, check_manifest, out_dir, album, overrides, as_json)
        return
    if not scores:
        if not album:
            raise click.UsageError("give the score files to render, or --album for the chapters in scores/")
        scores = tuple(str(p) for p in albums.chapter_scores("scores"))
    settings = RenderSettings(sample_rate=int(sample_rate) if sample_rate else None, format=fmt,
                              bits=int(bits), lufs=lufs, stems=stems, block_size=block_size, seed=seed,
                              fingerprint=make_fingerprint, click=make_click)
    limits = _limits(max_minutes, max_voices, allow_large)
    # Validate every score (and what its render needs) before rendering any, so one typo or
    # one absurd size does not cost a long render.
    estimates, per_score, loaded = [], [], []
    chapters = [albums.CHAPTER_FILE.match(Path(p).name) is not None for p in scores] if album else []
    for k, path in enumerate(scores):
        score = _load(path)
        loaded.append(score)
        own = settings
        if album and chapters[k]:  # a chapter: the album's loudness target unless its score sets one
            own = albums.chapter_settings(score, settings, lufs if lufs is not None else albums.DEFAULT_TARGET_LUFS)
        per_score.append(own)
        estimates.append(check_limits(score, limits, sample_rate=own.sample_rate,
                                      block_size=block_size, stems=stems, bits=own.bits, lufs=own.lufs))
    if album and not any(chapters):
        raise ParameterError("--album needs chapter scores named NN-name.toml (01-..., 02-...)")
    for path, est in zip(scores, estimates):
        check_disk_space(est, out_dir, path=path)
    _install_sigterm()
    jobs = min(jobs, len(scores))
    show_progress = jobs == 1 and sys.stderr.isatty()
    if jobs == 1:
        summaries = [_render_one(path, out_dir, own, show_progress, score)  # validated above: not re-read
                     for path, own, score in zip(scores, per_score, loaded)]
    else:
        summaries = _render_parallel(scores, out_dir, per_score, jobs)
    for summary in summaries:
        click.echo(summary.to_json() if as_json else summary.format())
    if album:
        joined = [s for s, is_chapter in zip(summaries, chapters) if is_chapter]
        target = Path(out_dir) / f"album.{settings.format}"
        duration = albums.join_album([Path(s.path) for s in joined], target, settings)
        click.echo(albums.AlbumSummary(str(target), joined, duration).format())


def _explicit_options(**values) -> dict:
    """RenderSettings overrides from the options given on the command line (not defaults)."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    return {key: value for name, (key, value) in values.items()
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}


def _check_manifest(scores, manifest, out_dir, album, overrides, as_json) -> None:
    """``render --check-manifest``: one score against its manifest; exit 1 when it differs."""
    import json

    from symphony.manifest import check_manifest, manifest_path, read_manifest
    from symphony.render import output_path

    if album:
        raise ParameterError("--check-manifest checks one render; check each chapter with its own manifest")
    if manifest and manifest.endswith(".toml"):  # `--check-manifest score.toml`: the flag, then a score
        scores, manifest = scores + (manifest,), ""
    if not scores and manifest:
        scores = (read_manifest(manifest)["score"]["path"],)
    if len(scores) != 1:
        raise click.UsageError("--check-manifest checks one score at a time")
    path = scores[0]
    manifest = manifest or str(manifest_path(output_path(path, out_dir)))
    result = check_manifest(path, manifest, overrides=overrides)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(result.format())
    if not result.matches:
        sys.exit(EXIT_RENDER_FAILED)


def _render_one(path: str, out_dir: str, settings, show_progress: bool, score=None):
    """Render the score at ``path`` (``score``: its already loaded model, else it is loaded here)."""
    from symphony.api import render_file
    from symphony.render import output_path

    score = score if score is not None else _load(path)
    target = output_path(path, out_dir, settings.format)
    if not show_progress:
        return render_file(score, target, settings)
    bar_state = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bar_state.get(stage)
        if bar is None:
            bar = bar_state[stage] = click.progressbar(length=total, label=f"{Path(path).name} {stage}",
                                                       file=sys.stderr, show_eta=True)
            bar.__enter__()
            bar.last = 0
        bar.update(done - bar.last)
        bar.last = done
        if done >= total:
            bar.__exit__(None, None, None)

    return render_file(score, target, settings, progress=progress)


def _render_parallel(scores, out_dir, settings: list, jobs: int) -> list:
    """Render in worker processes (``settings`` per score); on Ctrl-C/SIGTERM stop the workers
    (they clean up) and re-raise."""
    import multiprocessing

    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker)
    futures = []
    try:
        futures = [pool.submit(_render_in_worker, path, out_dir, own) for path, own in zip(scores, settings)]
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        for f in futures:
            f.cancel()
        for child in multiprocessing.active_children():  # SIGTERM: a busy worker cleans up and stops
            child.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: Whether this worker process is rendering (a signal then interrupts the render so that its
#: temporary files are removed; an idle worker just exits). Per process, set only in workers.
_WORKER_BUSY = [False]


def _init_worker() -> None:
    def handler(signum, frame):
        if _WORKER_BUSY[0]:
            from symphony.render import STOP_REQUESTED

            STOP_REQUESTED.set()
            raise KeyboardInterrupt
        os._exit(EXIT_INTERRUPTED)  # idle: nothing to clean up, no traceback
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _render_in_worker(path: str, out_dir: str, settings):
    _WORKER_BUSY[0] = True
    try:
        return _render_one(path, out_dir, settings, False)
    finally:
        _WORKER_BUSY[0] = False


def _install_sigterm() -> None:
    """SIGTERM behaves like Ctrl-C: the render stops and cleans up its temporary files.

    Both also set ``symphony.render.STOP_REQUESTED``, which the render loops check, so the
    render stops even where the KeyboardInterrupt itself was swallowed.
    """
    def handler(signum, frame):
        from symphony.render import STOP_REQUESTED

        STOP_REQUESTED.set()
        raise KeyboardInterrupt
    try:
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not in the main thread (e.g. under a test runner)
        pass


@main.command()
@click.argument("name", required=False)
@_guarded
def instruments(name: str | None) -> None:
    """List the instruments and their parameters (or one instrument in detail)."""
    from symphony.instruments import REGISTRY

    names = [name] if name else sorted(REGISTRY)
    for n in names:
        if n not in REGISTRY:
            import difflib
            close = difflib.get_close_matches(n, REGISTRY, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ParameterError(f"unknown instrument '{n}'; {hint}known: {', '.join(sorted(REGISTRY))}")
        cls = REGISTRY[n]
        click.echo(f"{cls.NAME}  ({cls.FAMILY}, {cls.DEFAULT_VOICES} voices) - {cls.DOC}")
        if cls.DRUM_VOICES:
            click.echo(f"  drum voices: {', '.join(cls.DRUM_VOICES)}")
        for p in cls.PARAMS:
            click.echo(f"  {p.describe()}")
        click.echo("")


@main.command()
@click.argument("score_path", metavar="SCORE", type=click.Path(dir_okay=False))
@click.option("--sr", "sample_rate", type=click.Choice(["44100", "48000", "96000", "22050", "88200"]),
              default=None, help="Check the pinned bars at this sample rate [default: the score's].")
@click.option("--json", "as_json", is_flag=True, help="Print the cue sheet as JSON.")
@_guarded
def cues(score_path: str, sample_rate: str | None, as_json: bool) -> None:
    """Print the cue sheet: each cue and tempo change with bar, beat, timecode, seconds, bpm."""
    import json

    from symphony.cues import cue_sheet, cue_sheet_json, format_cue_sheet

    score = _load(score_path)
    rate = int(sample_rate) if sample_rate else None
    rows = cue_sheet(score, rate)
    click.echo(json.dumps(cue_sheet_json(score, rows, rate), indent=2) if as_json
               else format_cue_sheet(score, rows, rate))


@main.command("export-midi")
@click.argument("score_path", metavar="SCORE", type=click.Path(dir_okay=False))
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="Output .mid file [default: renders/<score name>.mid].")
@click.option("--ticks-per-beat", default="960", show_default=True,
              help="MIDI ticks per quarter note (24..32767), or 'auto': the fewest that keep every time exact.")
@_guarded
def export_midi(score_path: str, out: str | None, ticks_per_beat: str) -> None:
    """Write the chapter as a type-1 MIDI file: tempo map, meters, one track per section."""
    from symphony.midi import export_midi as write_midi

    if ticks_per_beat != "auto" and not ticks_per_beat.isdigit():
        raise ParameterError(f"--ticks-per-beat must be an integer in 24..32767 or 'auto', got {ticks_per_beat!r}")
    score = _load(score_path)
    out = out or os.path.join("renders", Path(score_path).stem + ".mid")
    tpb = ticks_per_beat if ticks_per_beat == "auto" else int(ticks_per_beat)
    click.echo(write_midi(score, out, ticks_per_beat=tpb).describe())


# --- fingerprint commands ---
@main.command()
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("-o", "--out", type=click.Path(), default=None,
              help="Output .fp file (one input) or folder [default: next to each audio input; "
                   "renders/ for scores].")
@click.option("--stems", is_flag=True, help="For a score: also fingerprint each stem into <out>.stems/.")
@click.option("--score", "score_path", type=click.Path(dir_okay=False), default=None,
              help="Score of the audio, so reports can say bar:beat.")
@click.option("--update-golden", is_flag=True,
              help="Regenerate the golden fingerprints of INPUTS (default: scores/*.toml).")
@click.option("--golden-dir", type=click.Path(file_okay=False), default="tests/golden", show_default=True)
@_guarded
def fingerprint(inputs, out, stems, score_path, update_golden, golden_dir) -> None:
    """Fingerprint audio files, folders of stems or scores (rendered first) into .fp files."""
    from symphony.fingerprint.golden import fingerprint_inputs, update_goldens

    if update_golden:
        written = update_goldens(inputs or sorted(str(p) for p in Path("scores").glob("*.toml")), golden_dir)
    else:
        command = " ".join(["symphony fingerprint", *inputs, *(["-o", out] if out else []),
                            *(["--stems"] if stems else []), *(["--score", score_path] if score_path else [])])
        written = fingerprint_inputs(inputs, out=out, stems=stems, score_path=score_path, command=command)
    for path in written:
        click.echo(str(path))


@main.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option("--stems", is_flag=True, help="A and B are folders of stems; compare them section by section.")
@click.option("--score", "score_path", type=click.Path(dir_okay=False), default=None,
              help="Label times with bar:beat of this score.")
@click.option("--ignore-level", is_flag=True,
              help="Ignore one overall gain difference (a render normalized to the score's LUFS target "
                   "against the un-normalized goldens).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_guarded
def compare(a, b, stems, score_path, ignore_level, as_json) -> None:
    """Compare two renders (wav/flac/.fp/score): exit 0 same music, 1 differs (report), 2 bad input."""
    from symphony.fingerprint.compare import Tolerances
    from symphony.fingerprint.report import compare_paths, format_comparison, to_json

    result = compare_paths(a, b, stems=stems, score_path=score_path,
                           tolerances=Tolerances(ignore_level=ignore_level))
    if as_json:
        click.echo(to_json(result))
    else:
        click.echo(result.format() if stems else format_comparison(result))
    if not result.same:
        sys.exit(EXIT_RENDER_FAILED)


@main.command()
@click.argument("name")
@click.option("-o", "--out-dir", default="renders", show_default=True, type=click.Path(file_okay=False))
@_guarded
def audition(name: str, out_dir: str) -> None:
    """Render instrument NAME's demo phrase to OUT_DIR/audition-NAME.wav."""
    from symphony.audition import audition as render_demo

    click.echo(render_demo(name, out_dir).format())


@main.command()
@click.argument("audio", type=click.Path(dir_okay=False, exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="PNG path [default: next to the audio, .png].")
@_guarded
def plot(audio: str, output: str | None) -> None:
    """Write a PNG with waveform, spectrogram and short-term loudness of AUDIO."""
    from symphony.plot import plot_audio

    click.echo(plot_audio(audio, output))


@main.command()
@click.argument("audio", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_guarded
def measure(audio: tuple[str, ...], as_json: bool) -> None:
    """Measure renders: LUFS, LRA, peaks, clipping, DC, click ratio (files or stems folders)."""
    import json

    from symphony.measure import measure_file

    paths = []
    for item in audio:
        path = Path(item)
        paths += sorted(p for p in path.iterdir() if p.suffix in (".wav", ".flac")) if path.is_dir() else [path]
    results = [measure_file(p) for p in paths]
    click.echo(json.dumps([r.as_dict() for r in results], indent=2) if as_json
               else "\n".join(r.format() for r in results))


# --- live commands ---
@main.command()
@click.argument("score_path", metavar="SCORE", type=click.Path(dir_okay=False))
@click.option("--from-bar", "from_bar", type=click.IntRange(1), default=None,
              help="Start at this bar [default: 1, or the loop's first bar].")
@click.option("--loop", "loop", metavar="FIRST-LAST", default=None, help="Repeat these bars, e.g. 17-32.")
@click.option("--watch", is_flag=True, help="Reload the score when it is saved (switches at the next bar).")
@click.option("--backend", type=click.Choice(["jack", "portaudio"]), default="jack", show_default=True)
@click.option("--buffer", "buffer_size", type=click.IntRange(16, 4096), default=256, show_default=True,
              help="Audio block in frames (JACK imposes its own period).")
@click.option("--device", default=None,
              help="PortAudio output device (name or index); JACK: port prefix [system:playback_].")
@click.option("--record", type=click.Path(dir_okay=False), default=None,
              help="Also write what is played to this float WAV.")
@click.option("--seed", type=int, default=None, help="Override the score's seed.")
@click.option("--osc-port", type=click.IntRange(0, 65535), default=9000, show_default=True,
              help="UDP port for OSC control (0: none).")
@click.option("--seconds", type=click.FloatRange(0, min_open=True), default=None,
              help="Stop after this many seconds.")
@click.option("--ahead", "ahead_ms", type=click.FloatRange(1, 5000), default=None, metavar="MS",
              help="Render-ahead in ms (the ring's depth; less = lower latency, more = safer) [default: 300].")
@click.option("--chunk", "chunk_frames", type=click.IntRange(1, 4096), default=None, metavar="FRAMES",
              help="Frames rendered per Conductor call, rounded to whole blocks [default: 1024, at most --ahead].")
@_guarded
def play(score_path, from_bar, loop, watch, backend, buffer_size, device, record, seed, osc_port,
         seconds, ahead_ms, chunk_frames) -> None:
    """Play a score live through pyo (JACK or PortAudio); keys: space, q, arrows."""
    from symphony.live import PlaySettings, parse_loop, play as play_live

    settings = PlaySettings(backend=backend, buffer_size=buffer_size, start_bar=from_bar,
                            loop=parse_loop(loop), watch=watch, device=device, record=record,
                            seed=seed, osc_port=osc_port or None,
                            **{k: v for k, v in (("ahead_ms", ahead_ms), ("chunk_frames", chunk_frames))
                               if v is not None})
    _install_sigterm()
    summary = play_live(score_path, settings, max_seconds=seconds)
    click.echo(summary.format(), err=True)
    if summary.interrupted:
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":  # pragma: no cover
    main()
