"""Standard MIDI File -> the notes of a ``[passage.midi]`` (MIDI in), read with mido.

Two steps:

1. :func:`read_midi` parses the file (mido does the SMF bytes) into plain data: per track
   its name and its notes as ``(start_tick, end_tick, channel, key, velocity)``, with note
   on/off pairs matched first-in first-out per channel and key, plus the file's time
   signatures (they define its bars; its tempo map is not used: the score's tempo plays).
2. :func:`realize_midi_passage` is the score validator's hook for ``[passage.midi]``
   (handed to it through ``Catalog.midi``, since ``symphony.score`` may not import mido):
   it checks the keys, selects track, channel and bars, converts ticks to exact
   ``Fraction`` beats (quarter notes, like the score) or snaps onsets to a grid, and
   returns :class:`~symphony.score.generate.Hit` objects the passage turns into the same
   :class:`~symphony.score.model.Note` objects the note language makes.
"""

from __future__ import annotations

import bisect
import difflib
import io
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import mido

from symphony.midi.gm import GM_KEY_TO_VOICE, VOICE_TO_GM_KEY
from symphony.score.checker import MAX_BARS, MAX_NOTES_PER_PASSAGE, Checker
from symphony.score.generate import DRUM_NOMINAL_PITCH, Hit, parse_step

#: Keys of ``[passage.midi]``.
MIDI_KEYS = ("file", "track", "channel", "from_bar", "to_bar", "quantize", "velocities")
VELOCITY_MODES = ("keep", "dynamics")
MAX_MIDI_BYTES = 64 * 1024 * 1024


class MidiReadError(ValueError):
    """A MIDI file that cannot be used: ``message`` says why, ``hint`` how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class MidiNote:
    """One sounding note of a track: ticks from the file start, channel 1..16, key 0..127."""

    start_tick: int
    end_tick: int
    channel: int
    key: int
    velocity: int


@dataclass(frozen=True)
class MidiTrack:
    """A track of the file: 1-based ``number`` in file order, its track_name, its notes."""

    number: int
    name: str
    notes: tuple[MidiNote, ...]

    def describe(self) -> str:
        """``2 'strings' (24 notes, channels 1, 2)`` for hints."""
        if not self.notes:
            return f"{self.number} '{self.name}' (no notes)"
        channels = ", ".join(str(c) for c in sorted({n.channel for n in self.notes}))
        plural = "s" if "," in channels else ""
        return f"{self.number} '{self.name}' ({len(self.notes)} notes, channel{plural} {channels})"


@dataclass(frozen=True)
class MidiContents:
    """What symphony uses of a Standard MIDI File.

    ``time_signatures`` holds ``(tick, numerator, denominator)`` sorted by tick (4/4 from
    tick 0 when the file has none). Ticks count ``ticks_per_beat`` per quarter note.
    """

    path: str
    format: int
    ticks_per_beat: int
    tracks: tuple[MidiTrack, ...]
    time_signatures: tuple[tuple[int, int, int], ...]

    def bar_ticks(self, last_bar: int) -> list[Fraction]:
        """Start ticks of bars 1 .. ``last_bar + 1`` of the file's own meter.

        A time signature that does not fall on a bar line starts a new bar where it
        falls (what most sequencers show).
        """
        starts = [Fraction(0)]
        sigs = list(self.time_signatures)
        k = 0
        while k + 1 < len(sigs) and sigs[k + 1][0] <= 0:
            k += 1
        while len(starts) < last_bar + 1:
            _, num, den = sigs[k]
            bar_end = starts[-1] + Fraction(4 * num * self.ticks_per_beat, den)
            if k + 1 < len(sigs) and sigs[k + 1][0] < bar_end:
                k += 1
                if sigs[k][0] > starts[-1]:
                    starts.append(Fraction(sigs[k][0]))
                continue
            starts.append(bar_end)
            while k + 1 < len(sigs) and sigs[k + 1][0] <= bar_end:
                k += 1
        return starts

    def bar_of_tick(self, tick: int) -> int:
        """1-based bar of the file's own meter that holds ``tick``."""
        n = 64
        while True:
            starts = self.bar_ticks(n)
            if starts[-1] > tick:
                return bisect.bisect_right(starts, tick)
            n *= 2


def read_midi(path: str) -> MidiContents:
    """Parse a Standard MIDI File (format 0, 1 or 2) into :class:`MidiContents`.

    Parameters
    ----------
    path : str
        The ``.mid`` file.

    Returns
    -------
    MidiContents

    Raises
    ------
    MidiReadError
        Missing file, a directory, not a MIDI file, SMPTE time division, a damaged file.

    Examples
    --------
    >>> read_midi("missing.mid")
    Traceback (most recent call last):
    ...
    symphony.midi.read.MidiReadError: MIDI file 'missing.mid' not found
    """
    if os.path.isdir(path):
        raise MidiReadError(f"MIDI path '{path}' is a directory", "give the path of a .mid file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_MIDI_BYTES + 1)
    except FileNotFoundError:
        raise MidiReadError(f"MIDI file '{path}' not found",
                            "file = \"...\" is relative to the score file's folder; check the name") from None
    except OSError as e:
        raise MidiReadError(f"cannot read MIDI file '{path}': {e.strerror or e}",
                            "check the path and its permissions") from None
    if len(data) > MAX_MIDI_BYTES:
        raise MidiReadError(f"MIDI file '{path}' is larger than {MAX_MIDI_BYTES // (1024 * 1024)} MB",
                            "split it, or export only the tracks you need")
    if not data.startswith(b"MThd"):
        raise MidiReadError(f"'{path}' is not a Standard MIDI File (it does not start with 'MThd')",
                            "export the part from your DAW as a .mid file (type 0 or 1)")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError... for damaged files
        raise MidiReadError(f"'{path}' is a damaged MIDI file: {e or type(e).__name__}",
                            "re-export it from your DAW") from None
    if midi.ticks_per_beat <= 0:
        raise MidiReadError(f"'{path}' uses SMPTE time division, which has no beats",
                            "export the file with a ticks-per-quarter-note division (the default in DAWs)")
    tracks: list[MidiTrack] = []
    sigs: list[tuple[int, int, int]] = []
    for number, track in enumerate(midi.tracks, start=1):
        tick = 0
        name = ""
        notes: list[MidiNote] = []
        open_: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (channel, key) -> [(tick, velocity)]
        for msg in track:
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                open_.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif kind == "note_off" or kind == "note_on":
                waiting = open_.get((msg.channel, msg.note))
                if waiting:
                    on, velocity = waiting.pop(0)
                    notes.append(MidiNote(on, max(tick, on + 1), msg.channel + 1, msg.note, velocity))
            elif kind == "track_name" and not name:
                name = msg.name
            elif kind == "time_signature":
                sigs.append((tick, msg.numerator, msg.denominator))
        for (channel, key), waiting in open_.items():  # never released: ends with the track
            for on, velocity in waiting:
                notes.append(MidiNote(on, max(tick, on + 1), channel + 1, key, velocity))
        notes.sort(key=lambda n: (n.start_tick, n.channel, n.key))
        tracks.append(MidiTrack(number, name, tuple(notes)))
    sigs.sort(key=lambda s: s[0])
    if not sigs or sigs[0][0] > 0:
        sigs.insert(0, (0, 4, 4))
    return MidiContents(path, midi.type, midi.ticks_per_beat, tuple(tracks), tuple(sigs))


# ---------------------------------------------------------------------------- the score hook
def realize_midi_passage(c: Checker, table: dict, keypath: tuple, *, start: Fraction,
                         drum_voices: tuple[str, ...], name: str,
                         read: Callable[[str], MidiContents] | None = None,
                         ) -> tuple[list[Hit], Fraction] | None:
    """Check a ``[passage.midi]`` table and read its notes (the validator's MIDI hook).

    Parameters
    ----------
    c : Checker
        Collects problems with the score's positions (``c.path`` is the score file; ``file``
        is relative to its folder).
    table : dict
        The ``[passage.midi]`` table; ``keypath`` its key path in the document.
    start : Fraction
        Absolute beat where the passage starts: the first bar of the selection lands here.
    drum_voices : tuple of str
        Non-empty when the passage's sections play a drum instrument: GM percussion keys
        are mapped to these voices.
    name : str
        The passage name, for messages.
    read : callable, optional
        ``path -> MidiContents``; default :func:`read_midi` (a reader may cache).

    Returns
    -------
    (hits, end) or None
        ``hits``: one :class:`Hit` per note, absolute exact beats, velocity in 0..1 (None
        with ``velocities = "dynamics"``: the passage's ``velocity`` applies); ``end``:
        absolute beat where the selection ends. None after a reported problem.
    """
    c.allow(table, keypath, MIDI_KEYS, "[passage.midi]")
    file = c.get(table, "file", keypath, "str", required=True)
    channel = c.get(table, "channel", keypath, "int", low=1, high=16)
    from_bar = c.get(table, "from_bar", keypath, "int", low=1, high=MAX_BARS)
    to_bar = c.get(table, "to_bar", keypath, "int", low=1, high=MAX_BARS)
    velocities = c.get(table, "velocities", keypath, "str", default="keep", choices=VELOCITY_MODES)
    grid = None
    if "quantize" in table:
        raw = c.get(table, "quantize", keypath, "str")
        if raw is not None:
            try:
                grid = parse_step(raw)
            except ValueError:
                c.error(keypath + ("quantize",), f"bad quantize grid {raw!r}",
                        "write a note value like \"1/16\", \"1/8\", \"1/8.\" or \"1/12\" (triplet eighths); "
                        "leave quantize out to keep the file's exact timing")
                return None
    track_key = table.get("track")
    if "track" in table and (isinstance(track_key, bool) or not isinstance(track_key, (int, str))):
        c.error(keypath + ("track",), f"track must be a track number or a track name, got {track_key!r}",
                "e.g. track = 2 (counting from 1 in file order) or track = \"strings\"")
        return None
    if from_bar is not None and to_bar is not None and to_bar < from_bar:
        c.error(keypath + ("to_bar",), f"to_bar = {to_bar} comes before from_bar = {from_bar}",
                "to_bar is the last bar taken (inclusive) and must be >= from_bar")
        return None
    if file is None or velocities is None or ("channel" in table and channel is None):
        return None
    score_dir = os.path.dirname(c.path)
    path = file if os.path.isabs(file) else os.path.join(score_dir, file)
    try:
        midi = (read or read_midi)(path)
    except MidiReadError as e:
        c.error(keypath + ("file",), e.message, e.hint)
        return None
    tracks = _select_tracks(c, midi, track_key, keypath, file)
    if tracks is None:
        return None
    notes = [n for t in tracks for n in t.notes]
    where = _where(tracks, file)
    if not notes:
        c.error(keypath + ("track",) if "track" in table else keypath + ("file",), f"{where} holds no notes",
                "tracks: " + "; ".join(t.describe() for t in midi.tracks))
        return None
    if channel is not None:
        on_channel = [n for n in notes if n.channel == channel]
        if not on_channel:
            used = ", ".join(str(ch) for ch in sorted({n.channel for n in notes}))
            c.error(keypath + ("channel",), f"{where} has no notes on channel {channel}",
                    f"its notes are on channel(s) {used}; omit channel to take every channel")
            return None
        notes = on_channel
    tpb = midi.ticks_per_beat
    first_tick = Fraction(0)
    last_tick: Fraction | None = None
    if from_bar is not None or to_bar is not None:
        bars = midi.bar_ticks((to_bar or from_bar or 1))
        first_tick = bars[(from_bar or 1) - 1]
        if to_bar is not None:
            last_tick = bars[to_bar]
    chosen = [n for n in notes if n.start_tick >= first_tick and (last_tick is None or n.start_tick < last_tick)]
    if not chosen:
        lo = midi.bar_of_tick(min(n.start_tick for n in notes))
        hi = midi.bar_of_tick(max(n.start_tick for n in notes))
        span = f"bars {from_bar or 1}..{to_bar if to_bar is not None else 'the end'}"
        c.error(keypath + ("from_bar",) if "from_bar" in table else keypath + ("to_bar",),
                f"no notes in {span} of {where}",
                f"its notes lie in bars {lo}..{hi} (counted in the MIDI file's own meter)")
        return None
    if len(chosen) > MAX_NOTES_PER_PASSAGE:
        c.error(keypath, f"{where} selects {len(chosen)} notes, more than the limit of {MAX_NOTES_PER_PASSAGE}",
                "select fewer bars with from_bar/to_bar, or split the passage")
        return None
    hits: list[Hit] = []
    unmapped: dict[int, int] = {}
    for n in chosen:
        onset = Fraction(n.start_tick - first_tick) / tpb
        length = Fraction(n.end_tick - n.start_tick) / tpb
        end = onset + length
        if last_tick is not None:
            end = min(end, (last_tick - first_tick) / tpb)
        if grid is not None:
            # snap the onset to the nearest grid line (halves round up), keep the length
            snapped = math.floor(onset / grid + Fraction(1, 2)) * grid
            end += snapped - onset
            onset = snapped
            if last_tick is not None:
                end = min(end, (last_tick - first_tick) / tpb)
        if end <= onset:
            continue
        voice = None
        pitch = float(n.key)
        if drum_voices:
            voice = GM_KEY_TO_VOICE.get(n.key)
            if voice not in drum_voices:
                unmapped[n.key] = unmapped.get(n.key, 0) + 1
                continue
            pitch = DRUM_NOMINAL_PITCH
        velocity = n.velocity / 127.0 if velocities == "keep" else None
        hits.append(Hit(start + onset, end - onset, pitch, voice, velocity))  # type: ignore[arg-type]
    if unmapped:
        keys = ", ".join(f"{k} ({v}x)" for k, v in sorted(unmapped.items()))
        known = ", ".join(f"{VOICE_TO_GM_KEY[v]} {v}" for v in drum_voices if v in VOICE_TO_GM_KEY)
        c.error(keypath + ("file",), f"{where}: MIDI keys {keys} have no drum voice in passage '{name}'",
                f"drum sections read General MIDI percussion keys: {known}; move those notes to these keys")
        return None
    if not hits:
        c.error(keypath, f"the selection of {where} leaves no notes", "check from_bar/to_bar and quantize")
        return None
    if last_tick is not None:
        end_beat = start + (last_tick - first_tick) / tpb
    else:
        end_beat = max(h.start + h.duration for h in hits)
    return hits, end_beat


def _where(tracks: list[MidiTrack], file: str) -> str:
    if len(tracks) == 1:
        return f"track {tracks[0].number} '{tracks[0].name}' of {file}"
    return f"{file}"


def _select_tracks(c: Checker, midi: MidiContents, key: int | str | None, keypath: tuple,
                   file: str) -> list[MidiTrack] | None:
    listing = "; ".join(t.describe() for t in midi.tracks)
    if key is None:
        return list(midi.tracks)
    if isinstance(key, int):
        if not 1 <= key <= len(midi.tracks):
            c.error(keypath + ("track",), f"{file} has no track {key}: it has {len(midi.tracks)} "
                    f"track{'s' if len(midi.tracks) != 1 else ''}",
                    f"tracks count from 1 in file order: {listing}")
            return None
        return [midi.tracks[key - 1]]
    found = [t for t in midi.tracks if t.name == key]
    if not found:
        close = difflib.get_close_matches(key, [t.name for t in midi.tracks if t.name], n=1, cutoff=0.6)
        c.error(keypath + ("track",), f"{file} has no track named '{key}'",
                (f"did you mean '{close[0]}'? " if close else "") + f"tracks: {listing}")
        return None
    if len(found) > 1:
        numbers = ", ".join(str(t.number) for t in found)
        c.error(keypath + ("track",), f"{file} has {len(found)} tracks named '{key}' (tracks {numbers})",
                f"choose one by number, e.g. track = {found[0].number}")
        return None
    return found
