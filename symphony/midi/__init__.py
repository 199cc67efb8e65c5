"""MIDI in and out: Standard MIDI Files as passage material and as an export of a chapter.

- MIDI in: a ``[passage.midi]`` table takes a passage's notes from a track of a ``.mid``
  file (:mod:`symphony.midi.read`). The score layer may not import mido, so the score
  validator calls it through ``Catalog.midi``, which :func:`symphony.catalog.default_catalog`
  fills with a :class:`MidiPassageReader`.
- MIDI out: :func:`export_midi` writes a chapter as a type-1 file with a conductor track
  (tempo map and meters) and one track per section (:mod:`symphony.midi.write`).

Only this package imports mido; importing it does not (the functions below load their
modules on first use), so loading a score without MIDI material never touches mido.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MidiPassageReader", "realize_midi_passage", "read_midi", "score_to_midi", "export_midi"]


class MidiPassageReader:
    """The ``Catalog.midi`` hook, remembering the files it parsed (one reader per catalog).

    Several passages often take tracks of one file; each file is parsed once per reader.
    A file is re-read when its size or modification time changes. Calling the reader is
    :func:`symphony.midi.read.realize_midi_passage`.

    Parameters
    ----------
    max_files : int >= 1
        Parsed files kept (oldest dropped first).
    """

    def __init__(self, max_files: int = 32) -> None:
        self.max_files = int(max_files)
        self._files: dict[tuple, Any] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from symphony.midi.read import realize_midi_passage as realize

        return realize(*args, read=self.read, **kwargs)

    def read(self, path: str) -> Any:
        """:func:`symphony.midi.read.read_midi`, cached by (path, size, mtime)."""
        import os

        from symphony.midi.read import read_midi as parse

        try:
            st = os.stat(path)
            key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
        except OSError:
            return parse(path)  # reports the missing/unreadable file
        if key not in self._files:
            if len(self._files) >= self.max_files:
                self._files.pop(next(iter(self._files)))
            self._files[key] = parse(path)
        return self._files[key]


def realize_midi_passage(*args: Any, **kwargs: Any) -> Any:
    """The ``Catalog.midi`` hook: see :func:`symphony.midi.read.realize_midi_passage`."""
    from symphony.midi.read import realize_midi_passage as realize

    return realize(*args, **kwargs)


def read_midi(path: str) -> Any:
    """Parse a ``.mid`` file: see :func:`symphony.midi.read.read_midi`."""
    from symphony.midi.read import read_midi as read

    return read(path)


def score_to_midi(score: Any, **kwargs: Any) -> Any:
    """A chapter as a ``mido.MidiFile``: see :func:`symphony.midi.write.score_to_midi`."""
    from symphony.midi.write import score_to_midi as convert

    return convert(score, **kwargs)


def export_midi(score: Any, path: str, **kwargs: Any) -> Any:
    """Write a chapter as a type-1 ``.mid`` file: see :func:`symphony.midi.write.export_midi`."""
    from symphony.midi.write import export_midi as export

    return export(score, path, **kwargs)
