"""General MIDI tables: drum voices <-> GM percussion keys, instruments -> GM programs, key signatures.

Plain data shared by the MIDI reader and writer (no mido import here). The drum keys follow
the General MIDI 1 percussion map (MIDI Manufacturers Association, "General MIDI System
Level 1", 1991, table 5: channel 10 key numbers); the programs follow its instrument table
(0-based program numbers, as sent in a program_change message).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

#: Channel (0-based, as in the wire format) on which GM plays percussion: "channel 10".
DRUM_CHANNEL = 9

#: Drum-machine voice -> the GM percussion key it is written as.
VOICE_TO_GM_KEY: Mapping[str, int] = MappingProxyType({
    "kick": 36,        # Bass Drum 1
    "rim": 37,         # Side Stick
    "snare": 38,       # Acoustic Snare
    "clap": 39,        # Hand Clap
    "closed_hat": 42,  # Closed Hi-Hat
    "tom_low": 45,     # Low Tom
    "open_hat": 46,    # Open Hi-Hat
    "tom_mid": 47,     # Low-Mid Tom
    "tom_high": 50,    # High Tom
})

#: GM percussion key -> drum-machine voice, for reading: the keys above plus their GM
#: neighbours (acoustic/electric variants, pedal hi-hat, the other toms).
GM_KEY_TO_VOICE: Mapping[int, str] = MappingProxyType({
    35: "kick", 36: "kick",
    37: "rim",
    38: "snare", 40: "snare",
    39: "clap",
    42: "closed_hat", 44: "closed_hat",
    46: "open_hat",
    41: "tom_low", 43: "tom_low", 45: "tom_low",
    47: "tom_mid", 48: "tom_mid",
    50: "tom_high",
})

#: symphony instrument -> the nearest GM program (0-based), so a DAW's GM player sounds
#: roughly right before the user picks their own instruments.
GM_PROGRAMS: Mapping[str, int] = MappingProxyType({
    "acid_bass": 38,        # Synth Bass 1
    "string_ensemble": 48,  # String Ensemble 1
    "poly_lead": 81,        # Lead 2 (sawtooth)
    "brass_section": 61,    # Brass Section
    "noise_texture": 122,   # Seashore
    "riser": 97,            # FX 2 (soundtrack)
    "fm_synth": 4,          # Electric Piano 1 (the DX7 piano)
    "sub_drone": 89,        # Pad 2 (warm)
    "pluck": 45,            # Pizzicato Strings
    "modal_metal": 14,      # Tubular Bells
    "timpani": 47,          # Timpani
    "organ": 19,            # Church Organ
    "machine_choir": 52,    # Choir Aahs
    "drum_machine": 0,      # Standard Kit (on the drum channel)
})

_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
#: Semitones from the parent major scale's tonic up to the tonic of each church mode.
_MODE_DEGREE = {"major": 0, "ionian": 0, "dorian": 2, "phrygian": 4, "lydian": 5, "mixolydian": 7,
                "locrian": 11}
_VALID = set(_MAJOR_NAMES) | set(_MINOR_NAMES) | {"C#", "Cb", "Gb", "A#m", "Abm", "D#m"}


def key_signature_name(key: str) -> str | None:
    """The key_signature name (``"Dm"``, ``"Bb"``) for a score key such as ``"D minor"``.

    Church modes are written with the signature of their parent major scale (``"D dorian"``
    -> ``"C"``), harmonic minor as its minor key. None when the text is not a key.

    Examples
    --------
    >>> key_signature_name("D minor"), key_signature_name("E phrygian")
    ('Dm', 'C')
    """
    parts = key.strip().split()
    if len(parts) != 2:
        return None
    tonic, mode = parts[0], parts[1].lower()
    letter = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}.get(tonic[:1].lower())
    if letter is None or tonic[1:] not in ("", "#", "b"):
        return None
    pc = (letter + {"": 0, "#": 1, "b": -1}[tonic[1:]]) % 12
    spelled = tonic[:1].upper() + tonic[1:]
    if mode in ("minor", "aeolian", "harmonic_minor"):
        return spelled + "m" if spelled + "m" in _VALID else _MINOR_NAMES[pc]
    if mode in ("major", "ionian"):
        return spelled if spelled in _VALID else _MAJOR_NAMES[pc]
    if mode in _MODE_DEGREE:
        return _MAJOR_NAMES[(pc - _MODE_DEGREE[mode]) % 12]
    return None
