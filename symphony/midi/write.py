"""A chapter -> a type-1 Standard MIDI File (MIDI out), written with mido.

Layout of the file:

- track 1, the conductor track: the chapter title, the key signature, a ``time_signature``
  at every meter change (7/8 is written as 7/8), a ``set_tempo`` at every tempo change
  (cue-solved tempi when the score pins cue points), a marker at every passage start, a
  cue marker at every cue point, the film time of bar 1 as ``smpte_offset`` (scoring to
  picture), and ``end_of_track`` at the chapter's last bar line;
- one track per section, in score order: ``track_name`` = section name,
  ``instrument_name`` = the symphony instrument, a ``program_change`` to the nearest
  General MIDI program, then the notes. Drum sections play on channel 10 with General
  MIDI percussion keys; other sections get channels 1..16 in turn (10 skipped).

Times: MIDI ticks count quarter notes (``ticks_per_beat`` per quarter), and so do the
score's beats, whatever the meter's beat unit: a 7/8 bar is 7/2 quarter notes = 3360 ticks
at 960. Every note is placed at ``round(start_beat * ticks_per_beat)``, so bar lines and
onsets land exactly where the score puts them whenever they fall on the tick grid (every
note value down to 1/64, triplets and quintuplets at 960 ticks).

.. note::
   **Tempo ramps.** MIDI tempo is a step function. A ramp (linear in beats) is written as
   a ``set_tempo`` every ``ramp_step_beats`` (a 32nd note by default); each step's tempo is
   the one that makes the step last exactly as long as the ramp does over the same beats
   (``60 * beats / seconds``), so every step boundary, and therefore every bar line, falls
   at the score's time. Inside a step of ``h`` beats the error is at most
   ``h**2 / 8 * 60 * |slope| / bpm**2`` seconds (the chord of a convex curve): 13 us in
   example-01's accelerando, 76 us at the slow end of a steep 132 -> 90 bpm ramp over 8
   beats. Tempos are whole microseconds per quarter; the rounding is carried from step to
   step inside a ramp so it does not accumulate there. A constant tempo is rounded once
   (at most 0.5 us of drift per beat).

Velocities: ``round(127 * velocity * expression)`` where ``expression`` is the linear gain
of the section's dynamics at the note's onset (the score plays dynamics as a gain, and the
instruments' amplitude is linear in velocity, so the product keeps each onset's level). A
detuned or microtonal pitch is rounded to the nearest key; unison timing spread
(``offset_ms``) is not written.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction

import mido

from symphony.errors import ParameterError, RenderError
from symphony.midi.gm import DRUM_CHANNEL, GM_PROGRAMS, VOICE_TO_GM_KEY, key_signature_name
from symphony.score.model import DynamicPoint, Note, Score
from symphony.tempo import TempoMap

DEFAULT_TICKS_PER_BEAT = 960
DEFAULT_RAMP_STEP_BEATS = Fraction(1, 8)

# Sort order of events at one tick: meta first, then releases before new notes.
_META, _PROGRAM, _OFF, _ON = 0, 1, 2, 3


@dataclass(frozen=True)
class MidiExport:
    """What :func:`export_midi` wrote."""

    path: str
    n_tracks: int
    n_notes: int
    n_tempo_events: int
    n_meter_events: int
    ticks_per_beat: int
    length_ticks: int

    def describe(self) -> str:
        """One line for the CLI."""
        return (f"{self.path}: {self.n_tracks} tracks, {self.n_notes} notes, {self.n_tempo_events} tempo and "
                f"{self.n_meter_events} meter events, {self.ticks_per_beat} ticks per quarter note")


def exact_ticks_per_beat(score: Score, *, base: int = DEFAULT_TICKS_PER_BEAT, limit: int = 32767) -> int:
    """The smallest multiple of ``base`` that puts every onset, release and change on a tick.

    Swung steps (``swing = 0.08`` -> hundredths of a beat) and gated lengths (``legato =
    0.92`` -> 25ths) need more ticks than 960; ``base`` itself when the grid needed is finer
    than ``limit`` (the SMF maximum, 32767) allows.

    Examples
    --------
    >>> from symphony.catalog import load
    >>> exact_ticks_per_beat(load("x.toml", text='[chapter]\\ntitle = "T"'))
    960
    """
    common = 1
    beats = [n.start_beat for n in score.notes] + [n.start_beat + n.duration_beats for n in score.notes]
    beats += [m.start_beat for m in score.meters] + [t.start_beat for t in score.tempos]
    for beat in set(beats):
        common = math.lcm(common, Fraction(beat).denominator)
        if math.lcm(common, base) > limit:
            return base
    return math.lcm(common, base)


def score_to_midi(score: Score, *, ticks_per_beat: int | str = DEFAULT_TICKS_PER_BEAT,
                  ramp_step_beats: Fraction | float = DEFAULT_RAMP_STEP_BEATS) -> mido.MidiFile:
    """The chapter as a type-1 ``mido.MidiFile`` (conductor track + one track per section).

    Parameters
    ----------
    score : Score
    ticks_per_beat : int in 24..32767, or "auto"
        Ticks per quarter note (the SMF time division); ``"auto"``: the
        :func:`exact_ticks_per_beat` of the score (exact times when they fit).
    ramp_step_beats : Fraction or float, 0 < ramp_step_beats <= 1
        Spacing of the ``set_tempo`` steps that approximate a tempo ramp, in quarter notes.

    Returns
    -------
    mido.MidiFile

    Raises
    ------
    ParameterError
        For a ``ticks_per_beat`` or ``ramp_step_beats`` out of range.

    Examples
    --------
    >>> from symphony.catalog import load
    >>> mid = score_to_midi(load("x.toml", text='[chapter]\\ntitle = "T"'))
    >>> mid.type, mid.ticks_per_beat, len(mid.tracks)
    (1, 960, 1)
    """
    if ticks_per_beat == "auto":
        ticks_per_beat = exact_ticks_per_beat(score)
    if isinstance(ticks_per_beat, bool) or not isinstance(ticks_per_beat, int) or not 24 <= ticks_per_beat <= 32767:
        raise ParameterError(f"ticks_per_beat must be an integer in 24..32767 or \"auto\", got {ticks_per_beat!r}")
    step = Fraction(ramp_step_beats).limit_denominator(ticks_per_beat)
    if 0 < step <= 1:  # whole ticks, so each step's tempo holds for exactly its beats
        step = Fraction(max(1, round(step * ticks_per_beat)), ticks_per_beat)
    else:
        raise ParameterError(f"ramp_step_beats must be in (0, 1] quarter notes, got {ramp_step_beats!r}")
    tpb = ticks_per_beat
    end_tick = _tick(score.end_beat, tpb)
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    mid.tracks.append(_conductor_track(score, tpb, step, end_tick))
    channels = _channels(score)
    for section in score.sections:
        notes = [n for n in score.notes if n.section == section.name]
        points = [d for d in score.dynamics if d.section == section.name]
        mid.tracks.append(_section_track(section.name, section.instrument, channels[section.name], notes,
                                         points, tpb, end_tick))
    return mid


def export_midi(score: Score, path: str | os.PathLike, *, ticks_per_beat: int | str = DEFAULT_TICKS_PER_BEAT,
                ramp_step_beats: Fraction | float = DEFAULT_RAMP_STEP_BEATS) -> MidiExport:
    """Write the chapter as a type-1 ``.mid`` file (atomically: temporary file, then rename).

    Parameters
    ----------
    score : Score
    path : str or os.PathLike
        The output file; its folder is created if needed.
    ticks_per_beat, ramp_step_beats
        See :func:`score_to_midi`.

    Returns
    -------
    MidiExport

    Raises
    ------
    ParameterError
        Bad ``ticks_per_beat`` / ``ramp_step_beats``.
    RenderError
        The file cannot be written (the previous file, if any, is left intact).
    """
    mid = score_to_midi(score, ticks_per_beat=ticks_per_beat, ramp_step_beats=ramp_step_beats)
    out = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(out))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".midi-", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            mid.save(file=f)
        os.replace(tmp, out)
        tmp = None
    except OSError as e:
        raise RenderError(f"cannot write MIDI file '{out}': {e.strerror or e}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    conductor = mid.tracks[0]
    return MidiExport(
        path=out, n_tracks=len(mid.tracks),
        n_notes=sum(1 for t in mid.tracks[1:] for m in t if m.type == "note_on"),
        n_tempo_events=sum(1 for m in conductor if m.type == "set_tempo"),
        n_meter_events=sum(1 for m in conductor if m.type == "time_signature"),
        ticks_per_beat=mid.ticks_per_beat, length_ticks=_tick(score.end_beat, mid.ticks_per_beat))


# ---------------------------------------------------------------------------- tempo
def tempo_events(score: Score, ticks_per_beat: int, ramp_step_beats: Fraction
                 ) -> list[tuple[int, int]]:
    """``(tick, microseconds per quarter note)`` for the score's tempo map, ramps as steps.

    Constant segments give one event at their start. A ramp over ``[b0, b1]`` is cut at
    ``b0``, every multiple of ``ramp_step_beats`` inside it, and ``b1``; the step over
    ``[a, b]`` gets the tempo ``(t(b) - t(a)) / (b - a)`` (its exact mean), rounded to whole
    microseconds with the rounding error carried into the next step.

    Examples
    --------
    >>> from symphony.catalog import load
    >>> tempo_events(load("x.toml", text='[chapter]\\ntitle = "T"'), 960, Fraction(1, 4))
    [(0, 500000)]
    """
    tm = TempoMap(score.tempos, 48000)
    events: list[tuple[int, int]] = []
    for seg in tm.segments:
        if seg.slope == 0.0:
            events.append((_tick(seg.start_beat, ticks_per_beat), int(round(60e6 / seg.bpm_start))))
            continue
        b0, b1 = seg.start_beat, seg.end_beat
        cuts = [b0]
        k = math.floor(b0 / ramp_step_beats) + 1
        while k * ramp_step_beats < b1:
            cuts.append(k * ramp_step_beats)
            k += 1
        cuts.append(b1)
        written_us = 0.0  # microseconds the steps written so far last, from b0
        t0 = float(seg.seconds_at(b0))
        for a, b in zip(cuts[:-1], cuts[1:]):
            target_us = (float(seg.seconds_at(b)) - t0) * 1e6
            beats = float(b - a)
            us = int(round((target_us - written_us) / beats))
            written_us += us * beats
            events.append((_tick(a, ticks_per_beat), us))
    out: list[tuple[int, int]] = []
    for tick, us in events:  # one event per tick (the later wins), no repeats of the same tempo
        if out and out[-1][0] == tick:
            out.pop()
        if not out or out[-1][1] != us:
            out.append((tick, us))
    return out


# ---------------------------------------------------------------------------- tracks
def _tick(beat: Fraction, tpb: int) -> int:
    return int(round(Fraction(beat) * tpb))


def _clocks_per_click(denominator: int) -> int:
    """MIDI clocks (24 per quarter) per metronome click of one meter unit."""
    return max(1, 96 // denominator)


def _conductor_track(score: Score, tpb: int, step: Fraction, end_tick: int) -> mido.MidiTrack:
    events: list[tuple[int, int, int, mido.MetaMessage]] = []
    n = 0

    def add(tick: int, order: int, msg: mido.MetaMessage) -> None:
        nonlocal n
        events.append((tick, order, n, msg))
        n += 1

    add(0, _META, mido.MetaMessage("track_name", name=score.title))
    key = key_signature_name(score.key)
    if key is not None:
        add(0, _META, mido.MetaMessage("key_signature", key=key))
    for m in score.meters:
        add(_tick(m.start_beat, tpb), _META, mido.MetaMessage(
            "time_signature", numerator=m.numerator, denominator=m.denominator,
            clocks_per_click=_clocks_per_click(m.denominator), notated_32nd_notes_per_beat=8))
    for tick, us in tempo_events(score, tpb, step):
        add(tick, _META, mido.MetaMessage("set_tempo", tempo=us))
    for p in score.passages:
        add(_tick(p.start_beat, tpb), _META, mido.MetaMessage("marker", text=p.name))
    # scoring to picture: the film time of bar 1 (smpte_offset) and a marker per cue point
    picture = getattr(score, "picture", None)
    offset = getattr(picture, "offset_seconds", 0)
    if offset:
        add(0, _META, smpte_offset(Fraction(offset), int(getattr(picture, "fps", 24))))
    for cue in getattr(score, "cues", ()):
        add(_tick(cue.start_beat, tpb), _META, mido.MetaMessage("cue_marker", text=cue.name))
    return _to_track(events, end_tick)


def smpte_offset(seconds: Fraction, fps: int) -> mido.MetaMessage:
    """The ``smpte_offset`` meta event for a film time (non-drop frames, 1/100-frame subframes).

    Examples
    --------
    >>> m = smpte_offset(Fraction(3725) + Fraction(1, 48), 24)
    >>> m.hours, m.minutes, m.seconds, m.frames, m.sub_frames
    (1, 2, 5, 0, 50)
    """
    rate = fps if fps in (24, 25, 30) else 24
    hundredths = round(seconds * rate * 100)  # in 1/100 frames
    frames_total, sub = divmod(hundredths, 100)
    secs_total, frames = divmod(frames_total, rate)
    minutes_total, secs = divmod(secs_total, 60)
    hours, minutes = divmod(minutes_total, 60)
    return mido.MetaMessage("smpte_offset", frame_rate=rate, hours=min(hours, 23), minutes=minutes,
                            seconds=secs, frames=frames, sub_frames=sub)


def _channels(score: Score) -> dict[str, int]:
    drums = {n.section for n in score.notes if n.voice is not None}
    melodic = [ch for ch in range(16) if ch != DRUM_CHANNEL]
    out, k = {}, 0
    for s in score.sections:
        if s.name in drums:
            out[s.name] = DRUM_CHANNEL
        else:
            out[s.name] = melodic[k % len(melodic)]
            k += 1
    return out


def expression_gain(points: list[DynamicPoint], beat: Fraction) -> float:
    """Linear expression gain of a section's dynamics at ``beat`` (1 without points).

    Holds the first level before the first point; a ``ramp`` point moves linearly in dB
    (here: in beats) to the next point, as the Orchestra's ``ExpressionCurve`` does in frames.
    """
    if not points:
        return 1.0
    level = points[0].level_db
    for i, p in enumerate(points):
        if p.beat > beat:
            break
        level = p.level_db
        if p.ramp and i + 1 < len(points) and points[i + 1].beat > beat:
            q = points[i + 1]
            x = float((beat - p.beat) / (q.beat - p.beat))
            level = p.level_db + x * (q.level_db - p.level_db)
            break
    return 10.0 ** (level / 20.0)


def _section_track(name: str, instrument: str, channel: int, notes: list[Note],
                   points: list[DynamicPoint], tpb: int, end_tick: int) -> mido.MidiTrack:
    events: list[tuple[int, int, int, object]] = []
    n = 0

    def add(tick: int, order: int, msg: object) -> None:
        nonlocal n
        events.append((tick, order, n, msg))
        n += 1

    add(0, _META, mido.MetaMessage("track_name", name=name))
    add(0, _META, mido.MetaMessage("instrument_name", name=instrument))
    add(0, _PROGRAM, mido.Message("program_change", channel=channel, program=GM_PROGRAMS.get(instrument, 0)))
    # (on, off, key, velocity); the same key may not overlap itself on one channel: a new
    # onset releases the sounding one, and a doubled onset keeps the louder, longer note
    placed: dict[int, list[list[int]]] = {}
    for note in notes:
        key = VOICE_TO_GM_KEY.get(note.voice, 0) if note.voice is not None else int(round(note.pitch))
        key = min(max(key, 0), 127)
        on = _tick(note.start_beat, tpb)
        off = max(_tick(note.start_beat + note.duration_beats, tpb), on + 1)
        velocity = note.velocity * expression_gain(points, note.start_beat)
        vel = min(127, max(1, int(round(127.0 * velocity))))
        placed.setdefault(key, []).append([on, off, vel])
    for key, rows in placed.items():
        rows.sort()
        kept: list[list[int]] = []
        for row in rows:
            if kept and kept[-1][0] == row[0]:
                kept[-1][1] = max(kept[-1][1], row[1])
                kept[-1][2] = max(kept[-1][2], row[2])
                continue
            if kept and kept[-1][1] > row[0]:
                kept[-1][1] = row[0]
            kept.append(row)
        for on, off, vel in kept:
            add(on, _ON, mido.Message("note_on", channel=channel, note=key, velocity=vel))
            add(off, _OFF, mido.Message("note_off", channel=channel, note=key, velocity=0))
    return _to_track(events, end_tick)


def _to_track(events: list, end_tick: int) -> mido.MidiTrack:
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    track = mido.MidiTrack()
    now = 0
    for tick, _, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
    return track
