"""Author diagnostics: compiler-style messages pointing at a file, line and column.

`str(diagnostic)` reads like a compiler's error line::

    halls/red.yaml:12:7: rooms[0].exhibits[2].asset: no such asset 'assets/lamp.glb' (did you mean 'assets/lamp.gltf'?)

Lines and columns are 1-based; `file` is shown relative to the project root.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """One problem in an author's file."""

    file: str
    """File, relative to the project root (`halls/red.yaml`)."""
    line: int
    """1-based line."""
    column: int
    """1-based column, in characters."""
    path: str
    """Where in the document, like `rooms[0].exhibits[2].title`; empty for the whole file."""
    message: str
    """Plain-language description, with a suggestion when there is one."""
    severity: Severity = "error"
    """`error` stops the build; `warning` does not."""

    def __str__(self) -> str:
        parts = [f"{self.file}:{self.line}:{self.column}"]
        if self.severity == "warning":
            parts.append("warning")
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)

    def to_json(self) -> dict:
        """A JSON-ready dict, for `--json` output and editors."""
        return asdict(self)

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.column, self.path, self.message)


class AuthorErrors(Exception):
    """Errors in the author's files; the message lists them one per line."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def format_path(path: Iterable[str | int]) -> str:
    """`('rooms', 0, 'exhibits', 2, 'title')` -> `rooms[0].exhibits[2].title`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `word`, if one is close enough to be a likely typo."""
    candidates = [c for c in candidates if c != word]
    by_case = [c for c in candidates if c.lower() == word.lower()]
    if by_case:
        return by_case[0]
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a close candidate exists, else an empty string."""
    match = suggest(word, candidates)
    return f" (did you mean '{match}'?)" if match is not None else ""
