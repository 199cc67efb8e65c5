"""The Conductor: score -> sample-accurate timeline -> stereo blocks.

The Conductor owns the one block loop of symphony. The offline writer (``render.py``)
and the live streamer (``live.py``) only consume what :meth:`Conductor.blocks` yields,
so both play the same samples.

Per block, each section is rendered in sub-blocks split at *its own* event frames
(sample-accurate onsets and releases), then the Orchestra mixes. Because every processor
carries its state across calls, the result does not depend on the block size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

import numpy as np

from symphony.orchestra import MasterChain, Orchestra
from symphony.score.model import Score
from symphony.tempo import TempoMap

#: Event kinds, ordered so that at one frame releases come before new notes.
NOTE_OFF, NOTE_ON = 0, 1


@dataclass(frozen=True)
class SectionEvents:
    """The sorted events of one section as parallel arrays (frame-major)."""

    frames: np.ndarray      # int64
    kinds: np.ndarray       # int8: NOTE_OFF / NOTE_ON
    note_ids: np.ndarray    # int64
    pitches: np.ndarray     # float64 (MIDI)
    velocities: np.ndarray  # float64
    voices: tuple[str | None, ...]


@dataclass(frozen=True)
class Block:
    """One block of the pre-master mix starting at ``start_frame`` (stems if requested)."""

    start_frame: int
    mix: np.ndarray                 # (2, n)
    stems: np.ndarray | None        # (n_stems, 2, n)


def build_timeline(score: Score, tempo_map: TempoMap, *, start_frame: int = 0
                   ) -> dict[str, SectionEvents]:
    """Turn the score's notes into per-section event arrays in frames.

    A note starts at ``frame_at(start_beat) + offset_ms`` and is released at
    ``frame_at(start_beat + duration_beats) + offset_ms`` (at least one frame later).
    Notes that start before ``start_frame`` are dropped (playback from a bar starts
    fresh); releases keep their absolute frames.
    """
    sr = tempo_map.sample_rate
    per_section: dict[str, list[tuple]] = {s.name: [] for s in score.sections}
    for note_id, note in enumerate(score.notes):
        shift = int(round(note.offset_ms * sr / 1000.0))
        on = tempo_map.frame_at(note.start_beat) + shift
        off = tempo_map.frame_at(note.start_beat + note.duration_beats) + shift
        on = max(on, 0)
        off = max(off, on + 1)
        if on < start_frame:
            continue
        rows = per_section[note.section]
        rows.append((on, NOTE_ON, note_id, note.pitch, note.velocity, note.voice))
        rows.append((off, NOTE_OFF, note_id, note.pitch, 0.0, note.voice))
    timeline = {}
    for name, rows in per_section.items():
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        timeline[name] = SectionEvents(
            frames=np.array([r[0] for r in rows], dtype=np.int64),
            kinds=np.array([r[1] for r in rows], dtype=np.int8),
            note_ids=np.array([r[2] for r in rows], dtype=np.int64),
            pitches=np.array([r[3] for r in rows], dtype=np.float64),
            velocities=np.array([r[4] for r in rows], dtype=np.float64),
            voices=tuple(r[5] for r in rows),
        )
    return timeline


class SectionGains:
    """Click-free per-section gains (live mute/solo): linear ramps of ``ramp_frames`` frames.

    Applied by :meth:`Conductor.blocks` to each section's instrument output before the
    mixer, so a muted section's bus sends go quiet too. Each gain moves toward its target
    by ``1 / ramp_frames`` per frame and its position is carried across calls, so the
    result does not depend on the block size. The instruments keep playing while muted,
    so un-muting resumes mid-phrase.

    Parameters
    ----------
    names : sequence of str
        Section names in the orchestra's order (``Orchestra.section_names``).
    ramp_frames : int >= 1
        Frames for a full 0 <-> 1 move.
    """

    def __init__(self, names, *, ramp_frames: int) -> None:
        if ramp_frames < 1:
            raise ValueError(f"ramp_frames must be >= 1, got {ramp_frames}")
        self.names = tuple(names)
        self.ramp_frames = int(ramp_frames)
        self._index = {name: k for k, name in enumerate(self.names)}
        self._current = np.ones(len(self.names))
        self._target = np.ones(len(self.names))

    def set_target(self, name: str, gain: float, *, immediate: bool = False) -> None:
        """Move section ``name`` toward linear ``gain`` (0 = muted, 1 = as written).

        ``immediate`` jumps there without a ramp (for a performance that has not started).
        """
        if name not in self._index:
            raise KeyError(name)
        self._target[self._index[name]] = float(gain)
        if immediate:
            self._current[self._index[name]] = float(gain)

    def target(self, name: str) -> float:
        return float(self._target[self._index[name]])

    def apply(self, section_blocks: list, n: int) -> None:
        """Scale ``section_blocks`` (list of (2, n) arrays or None) in place."""
        step = 1.0 / self.ramp_frames
        for k, block in enumerate(section_blocks):
            cur, tgt = self._current[k], self._target[k]
            if cur == tgt:
                if cur == 1.0 or block is None:
                    continue
                if cur == 0.0:
                    section_blocks[k] = None
                else:
                    block *= cur
                continue
            ramp = cur + np.copysign(step, tgt - cur) * np.arange(1, n + 1)
            ramp = np.minimum(ramp, tgt) if tgt > cur else np.maximum(ramp, tgt)
            self._current[k] = ramp[-1]
            if block is not None:
                block *= ramp


class Conductor:
    """Presides over one performance of a score.

    Parameters
    ----------
    score : Score
    sample_rate : int, optional
        Defaults to the score's ``chapter.sample_rate``.
    seed : int, optional
        Overrides the score's seed for the instruments' random generators.
    instruments, effects : mapping, optional
        Registries (name -> class); default to symphony's own.

    Examples
    --------
    >>> conductor = Conductor(score)                     # doctest: +SKIP
    >>> audio = np.concatenate([b.mix for b in conductor.blocks(1024)], axis=1)  # doctest: +SKIP
    """

    def __init__(self, score: Score, *, sample_rate: int | None = None, seed: int | None = None,
                 instruments: Mapping[str, type] | None = None,
                 effects: Mapping[str, type] | None = None) -> None:
        if instruments is None:
            from symphony.instruments import REGISTRY as instruments
        if effects is None:
            from symphony.dsp.effects import EFFECTS as effects
        self.score = score
        self.sample_rate = int(sample_rate or score.sample_rate)
        self.seed = int(score.seed if seed is None else seed)
        # score.tempos is the solved map: cue points were landed while loading (symphony.score.cues)
        self.tempo_map = TempoMap(score.tempos, self.sample_rate)
        self._instruments = instruments
        self._effects = effects
        self.end_frame = self.tempo_map.frame_at(score.end_beat)
        self.n_frames = self.end_frame + int(round(score.tail_seconds * self.sample_rate))
        self.orchestra = self._new_orchestra()

    def _new_orchestra(self) -> Orchestra:
        return Orchestra(self.score, self.sample_rate, self.tempo_map,
                         instruments=self._instruments, effects=self._effects, seed=self.seed)

    def master_chain(self) -> MasterChain:
        """A fresh master chain with the score's master settings."""
        m = self.score.master
        return MasterChain(self.sample_rate, gain_db=m.gain_db, ceiling_dbtp=m.ceiling_dbtp)

    def frame_of_bar(self, bar: int) -> int:
        """First frame of ``bar`` (1-based)."""
        return self.tempo_map.frame_at(self.score.bar_to_beat(bar))

    @property
    def duration_seconds(self) -> float:
        return self.n_frames / self.sample_rate

    def blocks(self, block_size: int = 1024, *, start_frame: int = 0, end_frame: int | None = None,
               stems: bool = False, section_gains: "SectionGains | None" = None) -> Iterator[Block]:
        """Yield the pre-master mix in blocks of ``block_size`` frames (the last may be shorter).

        Starts from a fresh orchestra; notes that would start before ``start_frame``
        are not played. Stops at ``end_frame`` (default: the end of the tail).
        ``section_gains`` (live mute/solo) scales each section's instrument output before
        the mixer, so its sends follow; None (the default) leaves the audio untouched.
        """
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        end = self.n_frames if end_frame is None else int(end_frame)
        orchestra = self.orchestra
        orchestra.reset()
        timeline = build_timeline(self.score, self.tempo_map, start_frame=start_frame)
        events = [timeline[name] for name in orchestra.section_names]
        cursors = [int(np.searchsorted(ev.frames, start_frame, side="left")) for ev in events]
        frame = int(start_frame)
        while frame < end:
            n = min(block_size, end - frame)
            section_blocks = []
            for k, (strip, ev) in enumerate(zip(orchestra.strips, events)):
                section_blocks.append(self._render_section(strip.instrument, ev, cursors, k, frame, n))
            if section_gains is not None:
                section_gains.apply(section_blocks, n)
            mix, stem_block = orchestra.process(frame, n, section_blocks, stems=stems)
            yield Block(frame, mix, stem_block)
            frame += n

    @staticmethod
    def _render_section(inst, ev: SectionEvents, cursors: list[int], k: int,
                        frame: int, n: int) -> np.ndarray | None:
        """Render one section's block, applying its events at their exact frames."""
        stop = frame + n
        c = cursors[k]
        if c >= ev.frames.size or ev.frames[c] >= stop:  # no event in this block
            if inst.is_silent:
                return None
            # an instrument returns a new (2, n) array per call: hand it on without a copy
            return np.asarray(inst.process(n), dtype=np.float64)
        out = np.empty((2, n))
        pos = frame
        frames = ev.frames
        while c < frames.size and frames[c] < stop:
            f = int(frames[c])
            if f > pos:
                out[:, pos - frame:f - frame] = inst.process(f - pos)
                pos = f
            while c < frames.size and frames[c] == f:
                if ev.kinds[c] == NOTE_ON:
                    inst.note_on(int(ev.note_ids[c]), float(ev.pitches[c]),
                                 float(ev.velocities[c]), ev.voices[c])
                else:
                    inst.note_off(int(ev.note_ids[c]))
                c += 1
        if pos < stop:
            out[:, pos - frame:] = inst.process(stop - pos)
        cursors[k] = c
        return out

    def render(self, *, block_size: int = 4096, master: bool = True, start_frame: int = 0,
               end_frame: int | None = None) -> np.ndarray:
        """The whole performance in memory, ``(2, n)`` float64 (for tests and notebooks).

        With ``master=True`` the master chain is applied and its latency removed.
        """
        parts = [b.mix for b in self.blocks(block_size, start_frame=start_frame, end_frame=end_frame)]
        mix = np.concatenate(parts, axis=1) if parts else np.zeros((2, 0))
        if not master:
            return mix
        chain = self.master_chain()
        lat = chain.latency_frames
        out = chain.process(np.concatenate([mix, np.zeros((2, lat))], axis=1))
        return out[:, lat:]
