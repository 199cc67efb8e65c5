"""Key path -> (line, column) for a TOML document that ``tomllib`` already accepted.

``tomllib`` keeps no positions, so :class:`PositionMap` re-scans the text with a small
tolerant scanner: table headers ``[a.b]``, arrays of tables ``[[passage]]`` (one index per
occurrence), ``key = value`` lines, dotted and quoted keys, inline tables and arrays (also
across lines). Paths are tuples of keys and array indices, e.g.
``("passage", 2, "players", 1, "section")``. String values also keep a map from decoded
character index to text offset, so a note token inside a string gets its own line:column.
"""

from __future__ import annotations

import bisect
from typing import Hashable

Path = tuple[Hashable, ...]

_ESCAPES = {"b", "t", "n", "f", "r", '"', "\\", "e"}


class PositionMap:
    """Positions (1-based line, 1-based column) of tables, keys, values and characters.

    Examples
    --------
    >>> PositionMap('[a]\\nb = 1\\n').find(("a", "b"))
    (2, 1)
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._line_starts = [0]
        for i, c in enumerate(text):
            if c == "\n":
                self._line_starts.append(i + 1)
        self._keys: dict[Path, int] = {}
        self._values: dict[Path, int] = {}
        self._strings: dict[Path, list[int]] = {}  # decoded index -> text offset
        self._aot: dict[Path, int] = {}
        self._i = 0
        try:
            self._scan()
        except (IndexError, ValueError, RecursionError):  # tolerant: keep what was found
            pass

    # ------------------------------------------------------------------ lookups
    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a text offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def find(self, path: Path) -> tuple[int, int]:
        """Position of the key (or table header) at ``path``; falls back to the nearest
        enclosing table or array element, and to (0, 0) when nothing matches."""
        path = tuple(path)
        while path:
            if path in self._keys:
                return self.line_col(self._keys[path])
            path = path[:-1]
        return 0, 0

    def value(self, path: Path) -> tuple[int, int]:
        """Position of the value at ``path`` (falls back like :meth:`find`)."""
        path = tuple(path)
        if path in self._values:
            return self.line_col(self._values[path])
        return self.find(path)

    def char(self, path: Path, index: int) -> tuple[int, int]:
        """Position of decoded character ``index`` of the string value at ``path``."""
        offsets = self._strings.get(tuple(path))
        if not offsets:
            return self.value(path)
        index = max(0, min(index, len(offsets) - 1))
        return self.line_col(offsets[index])

    # ------------------------------------------------------------------ scanner
    def _peek(self, k: int = 0) -> str:
        j = self._i + k
        return self.text[j] if j < len(self.text) else ""

    def _skip_space(self, newlines: bool) -> None:
        t = self.text
        while self._i < len(t):
            c = t[self._i]
            if c in " \t\r" or (newlines and c == "\n"):
                self._i += 1
            elif c == "#":
                while self._i < len(t) and t[self._i] != "\n":
                    self._i += 1
            else:
                break

    def _scan(self) -> None:
        table: Path = ()
        t = self.text
        while True:
            self._skip_space(True)
            if self._i >= len(t):
                return
            start = self._i
            if t.startswith("[[", self._i):
                self._i += 2
                keys = self._key()
                self._skip_space(False)
                self._i += 2  # ]]
                base = self._resolve(keys[:-1]) + (keys[-1][0],)
                index = self._aot.get(base, -1) + 1
                self._aot[base] = index
                table = base + (index,)
                self._keys.setdefault(base, start)
                self._keys[table] = start
            elif t[self._i] == "[":
                self._i += 1
                keys = self._key()
                self._skip_space(False)
                self._i += 1  # ]
                table = self._resolve(keys)
                for k in range(1, len(table)):
                    self._keys.setdefault(table[:k], start)
                self._keys[table] = start
            else:
                self._key_value(table)
            # rest of the line (comments)
            self._skip_space(False)
            while self._i < len(t) and t[self._i] != "\n":
                self._i += 1

    def _resolve(self, keys: list[tuple[str, int]]) -> Path:
        path: Path = ()
        for name, _ in keys:
            path = path + (name,)
            if path in self._aot:
                path = path + (self._aot[path],)
        return path

    def _key(self) -> list[tuple[str, int]]:
        """A possibly dotted key: [(part, offset), ...]."""
        parts: list[tuple[str, int]] = []
        t = self.text
        while True:
            self._skip_space(False)
            start = self._i
            c = self._peek()
            if c in "\"'":
                _, decoded = self._string()
                parts.append(("".join(decoded), start))
            else:
                j = self._i
                while j < len(t) and (t[j].isalnum() or t[j] in "_-"):
                    j += 1
                if j == self._i:
                    raise ValueError("no key")
                parts.append((t[self._i:j], start))
                self._i = j
            self._skip_space(False)
            if self._peek() == ".":
                self._i += 1
                continue
            return parts

    def _key_value(self, table: Path) -> None:
        keys = self._key()
        path = table
        for name, offset in keys:
            path = path + (name,)
            self._keys.setdefault(path, offset)
        self._keys[path] = keys[-1][1]
        self._skip_space(False)
        if self._peek() != "=":
            raise ValueError("expected =")
        self._i += 1
        self._skip_space(False)
        self._value(path, depth=0)

    def _value(self, path: Path, depth: int) -> None:
        if depth > 200:
            raise ValueError("too deep")
        t = self.text
        self._values[path] = self._i
        c = self._peek()
        if c in "\"'":
            offsets, _ = self._string()
            self._strings[path] = offsets
        elif c == "[":
            self._i += 1
            index = 0
            while True:
                self._skip_space(True)
                if self._peek() == "]":
                    self._i += 1
                    return
                self._keys.setdefault(path + (index,), self._i)
                self._value(path + (index,), depth + 1)
                self._skip_space(True)
                if self._peek() == ",":
                    self._i += 1
                    index += 1
        elif c == "{":
            self._i += 1
            while True:
                self._skip_space(True)
                if self._peek() == "}":
                    self._i += 1
                    return
                keys = self._key()
                sub = path
                for name, offset in keys:
                    sub = sub + (name,)
                    self._keys.setdefault(sub, offset)
                self._keys[sub] = keys[-1][1]
                self._skip_space(False)
                self._i += 1  # =
                self._skip_space(False)
                self._value(sub, depth + 1)
                self._skip_space(True)
                if self._peek() == ",":
                    self._i += 1
        else:
            while self._i < len(t) and t[self._i] not in ",]}\n#":
                self._i += 1

    def _string(self) -> tuple[list[int], list[str]]:
        """Scan a string at the cursor; return (text offset per decoded char, decoded chars)."""
        t = self.text
        quote = t[self._i]
        multi = t.startswith(quote * 3, self._i)
        self._i += 3 if multi else 1
        if multi and t.startswith("\r\n", self._i):
            self._i += 2
        elif multi and self._peek() == "\n":
            self._i += 1
        offsets: list[int] = []
        chars: list[str] = []
        end = quote * 3 if multi else quote
        while self._i < len(t):
            if t.startswith(end, self._i):
                if multi:  # up to two quotes may precede the closing triple
                    extra = 0
                    while extra < 2 and t.startswith(end + quote * (extra + 1), self._i):
                        extra += 1
                    for k in range(extra):
                        offsets.append(self._i + k)
                        chars.append(quote)
                    self._i += extra + 3
                else:
                    self._i += 1
                return offsets, chars
            c = t[self._i]
            if c == "\n" and not multi:
                raise ValueError("unterminated string")
            if quote == '"' and c == "\\":
                nxt = self._peek(1)
                if nxt in "uU":
                    width = 4 if nxt == "u" else 8
                    offsets.append(self._i)
                    chars.append(chr(int(t[self._i + 2:self._i + 2 + width], 16)))
                    self._i += 2 + width
                elif nxt in _ESCAPES:
                    offsets.append(self._i)
                    chars.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                    self._i += 2
                else:  # line-ending backslash: trim whitespace and newlines
                    self._i += 1
                    while self._i < len(t) and t[self._i] in " \t\r\n":
                        self._i += 1
                continue
            offsets.append(self._i)
            chars.append(c)
            self._i += 1
        raise ValueError("unterminated string")
