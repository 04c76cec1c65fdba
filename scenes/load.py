"""Load: a hall's YAML file becomes plain data with a source mark for every value.

Line-aware and defensive: the file is checked (size, encoding, characters),
parsed into YAML events with the safe resolver, and built into dicts, lists
and scalars (text, numbers, true/false, null) by an iterative walk that
rejects anchors, aliases, tags, duplicate keys and deep nesting as it goes.
`include: shared/<name>.yaml` mappings are replaced by that file's content.
Every problem becomes a `Diagnostic`; failures raise `AuthorErrors`.
"""

from __future__ import annotations

import codecs
import math
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import yaml

from scenes.diagnostics import AuthorErrors, Diagnostic, did_you_mean, format_path

Mark = tuple[str, int, int]
"""(file relative to the project root, 1-based line, 1-based column)."""

_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALAR_BUILDERS = {
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
}
# Characters YAML forbids in a stream (the YAML 1.1 printable set, inverted).
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ANCHORS_NOT_ALLOWED = "anchors and aliases (&name, *name) are not allowed; use include"


@dataclass(frozen=True)
class LoadOptions:
    """Load settings."""

    max_bytes: int = 1 << 20
    """Largest file accepted, checked before reading."""
    max_depth: int = 40
    """Deepest nesting of lists and mappings in one file (at most 1000)."""
    max_include_depth: int = 4
    """How deep includes may nest (a hall including a snippet is depth 1)."""
    halls_dir: Path | None = None
    """Folder that include paths are relative to; default: the loaded file's folder."""


@dataclass(frozen=True)
class Document:
    """A loaded YAML file: its data and where each value came from."""

    file: str
    """The file, relative to the project root (`halls/red.yaml`)."""
    data: Any
    """Plain data: dicts, lists, str, int, float, bool, None."""
    marks: dict[tuple, Mark]
    """Mark of each value by path: `('rooms', 0, 'title')`; `()` is the whole document."""
    key_marks: dict[tuple, Mark] = field(default_factory=dict)
    """Mark of each mapping key by the path of its value."""

    def mark(self, path: Iterable) -> Mark:
        """Mark of the value at `path`, or of its nearest marked ancestor."""
        path = tuple(path)
        while path and path not in self.marks:
            path = path[:-1]
        return self.marks.get(path, (self.file, 1, 1))

    def key_mark(self, path: Iterable) -> Mark:
        """Mark of the key naming the value at `path` (falls back to `mark`)."""
        path = tuple(path)
        return self.key_marks.get(path) or self.mark(path)


def load_document(path: Path, *, root: Path, options: LoadOptions = LoadOptions()) -> Document:
    """Load a hall file; raise `AuthorErrors` listing every problem found."""
    if options.max_bytes <= 0 or not 0 < options.max_depth <= 1000 or options.max_include_depth < 0:
        raise ValueError(f"load: limits must be positive (max_depth at most 1000, as libyaml), got {options}")
    path = Path(path)
    loader = _Loader(Path(root), Path(options.halls_dir or path.parent), options)
    doc = loader.load(path, chain=())
    if not isinstance(doc.data, dict):
        found = _describe_type(doc.data)
        message = f"a hall file must be a mapping of keys like 'id:' and 'rooms:', found {found}"
        raise AuthorErrors([_diagnostic(doc.mark(()), (), message)])
    return doc


def display_path(path: Path, root: Path) -> str:
    """`path` relative to the project root, with '/' separators, when it lies inside."""
    relative = os.path.relpath(Path(path).absolute(), Path(root).absolute())
    if relative == ".." or relative.startswith(".." + os.sep):
        return Path(path).as_posix()
    return PurePosixPath(*Path(relative).parts).as_posix()


# --- reading and decoding ---------------------------------------------------


def _diagnostic(mark: Mark, path: tuple, message: str) -> Diagnostic:
    file, line, column = mark
    return Diagnostic(file, line, column, format_path(path), message)


def _file_error(file: str, message: str, line: int = 1, column: int = 1) -> AuthorErrors:
    return AuthorErrors([Diagnostic(file, line, column, "", message)])


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KB"
    return f"{n} bytes"


def _read(path: Path, file: str, max_bytes: int) -> bytes:
    """The file's bytes, refusing missing, special and oversized files before reading."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _file_error(file, "no such file") from None
    except OSError as error:
        raise _file_error(file, f"cannot read the file: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _file_error(file, "not a file (is it a folder?)")
    too_large = f"file is too large: {{}} (the limit is {_size(max_bytes)}); split it into files joined with include"
    if info.st_size > max_bytes:
        raise _file_error(file, too_large.format(_size(info.st_size)))
    try:
        with path.open("rb") as stream:
            raw = stream.read(max_bytes + 1)
    except OSError as error:
        raise _file_error(file, f"cannot read the file: {error.strerror}") from None
    if len(raw) > max_bytes:
        raise _file_error(file, too_large.format(f"more than {_size(max_bytes)}"))
    return raw


def _byte_position(raw: bytes, index: int) -> tuple[int, int]:
    """1-based line and character column of byte `index`."""
    line_start = raw.rfind(b"\n", 0, index) + 1
    column = len(raw[line_start:index].decode("utf-8", errors="replace")) + 1
    return raw.count(b"\n", 0, index) + 1, column


def _text_position(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _decode(raw: bytes, file: str) -> str:
    """UTF-8 text, or a clear error for UTF-16, binary and other encodings."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _file_error(file, "the file is saved as UTF-16; save it as UTF-8")
    if b"\0" in raw:
        raise _file_error(file, "this is a binary file, not YAML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = raw[error.start]
        message = f"the file is not UTF-8 text (byte 0x{bad:02x} here); save it as UTF-8"
        raise _file_error(file, message, *_byte_position(raw, error.start)) from None
    text = text.removeprefix("\ufeff")
    forbidden = _NON_PRINTABLE.search(text)
    if forbidden:
        message = f"control character U+{ord(forbidden.group()):04X} is not allowed in YAML text; delete it"
        raise _file_error(file, message, *_text_position(text, forbidden.start()))
    return text


# --- YAML syntax errors -------------------------------------------------------


def _syntax_error(error: yaml.YAMLError, text: str, file: str) -> Diagnostic:
    """One plain-language line for a PyYAML/libyaml syntax error."""
    problem = getattr(error, "problem", None) or str(error)
    mark = getattr(error, "problem_mark", None)
    context_mark = getattr(error, "context_mark", None) or mark
    line, column = (mark.line, mark.column) if mark else (0, 0)
    lines = text.split("\n")
    source = lines[line] if line < len(lines) else ""
    indent = source[: len(source) - len(source.lstrip(" \t"))]
    if "\t" in indent:
        return Diagnostic(file, line + 1, indent.index("\t") + 1, "", "use spaces, not tabs, to indent")
    message, at_context = _translate_problem(problem, source[column : column + 1])
    where = context_mark if at_context and context_mark else mark
    if where is None:
        return Diagnostic(file, 1, 1, "", message)
    return Diagnostic(file, where.line + 1, where.column + 1, "", message)


def _translate_problem(problem: str, char: str) -> tuple[str, bool]:
    """(message, whether to point at the context mark rather than the problem mark)."""
    if "cannot start any token" in problem or "violates indentation" in problem:
        if char == "\t":
            return "use spaces, not tabs", False
        return f"a value cannot start with '{char}'; put the value in quotes", False
    if "mapping values are not allowed" in problem:
        return "unexpected ':' here; check this line's indentation, or put text containing ': ' in quotes", False
    if "could not find expected ':'" in problem:
        return "expected 'key: value' here; is a ':' missing, or a quote not closed?", False
    if "end of stream" in problem:
        return "this quoted text is never closed; add the closing quote", True
    if "unknown escape" in problem:
        return "unknown '\\' escape in double-quoted text; use single quotes, or write '\\\\' for a backslash", False
    if "',' or ']'" in problem:
        return "this '[' list is not closed; add ']' or separate the items with ','", True
    if "',' or '}'" in problem:
        return "this '{' mapping is not closed; add '}' or separate the entries with ','", True
    if "node content" in problem:
        return "a value is missing here", False
    if "'-' indicator" in problem or "<block end>" in problem or "expected key" in problem:
        return "this line does not line up with the lines above it; check its indentation", False
    if "anchor" in problem or "alias" in problem:
        return ANCHORS_NOT_ALLOWED, False
    if "tag" in problem:
        return "tags (!name) are not allowed; write plain values", False
    return f"not valid YAML: {problem}", False


# --- building data from events --------------------------------------------------


def _describe_type(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text '{value}'"
    return "a list" if isinstance(value, list) else "a mapping"


def _scalar(event: yaml.ScalarEvent) -> Any:
    """Plain scalars through the safe resolver; everything else, and timestamps, stay text."""
    if not event.implicit[0]:
        return event.value
    tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False))
    build = _SCALAR_BUILDERS.get(tag)
    if build is None:
        return event.value
    return build(yaml.ScalarNode(tag, event.value))


@dataclass
class _Frame:
    container: dict | list
    path: tuple
    key: str | None = None


class _Fatal(Exception):
    """Stops building: the rest of the file cannot be trusted."""


class _Builder:
    """Builds one file's data from its parse events, collecting problems."""

    def __init__(self, file: str, max_depth: int, include):
        self.file = file
        self.max_depth = max_depth
        self.include = include
        self.errors: list[Diagnostic] = []
        self.marks: dict[tuple, Mark] = {}
        self.key_marks: dict[tuple, Mark] = {}
        self.stack: list[_Frame] = []
        self.data: Any = None
        self.documents = 0

    def build(self, events: Iterator[yaml.Event]) -> None:
        for event in events:
            self._check_event(event)
            if isinstance(event, yaml.ScalarEvent):
                self._scalar(event)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                self._open(event)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                self._close()
            elif isinstance(event, yaml.DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    self._fatal(event, (), "a hall file holds one YAML document; remove the second '---'")

    def _mark(self, event: yaml.Event) -> Mark:
        start = event.start_mark
        assert start is not None  # the parser marks every event it emits
        return (self.file, start.line + 1, start.column + 1)

    def _fatal(self, event: yaml.Event, path: tuple, message: str) -> NoReturn:
        self.errors.append(_diagnostic(self._mark(event), path, message))
        raise _Fatal

    def too_deep(self) -> str:
        return f"nesting is too deep: more than {self.max_depth} levels of lists and mappings"

    def current_path(self) -> tuple:
        """Path of the value being built (the last key or index seen)."""
        return self._path()

    def _path(self) -> tuple:
        if not self.stack:
            return ()
        top = self.stack[-1]
        return top.path + ((len(top.container),) if isinstance(top.container, list) else (top.key,))

    def _check_event(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            self._fatal(event, self._path(), ANCHORS_NOT_ALLOWED)
        tag = getattr(event, "tag", None)
        if tag is not None:
            self._fatal(event, self._path(), f"tags like '{tag}' are not allowed; write plain values")

    def _awaiting_key(self) -> bool:
        return bool(self.stack) and isinstance(self.stack[-1].container, dict) and self.stack[-1].key is None

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        if self._awaiting_key():
            self._key(event)
            return
        value = _scalar(event)
        path = self._place(value, self._mark(event))
        if isinstance(value, float) and not math.isfinite(value):
            self.errors.append(_diagnostic(self._mark(event), path, f"'{event.value}' is not a number you can use"))

    def _key(self, event: yaml.ScalarEvent) -> None:
        top = self.stack[-1]
        key = event.value
        path = top.path + (key,)
        if key in top.container:
            _, first_line, _ = self.key_marks[path]
            self.errors.append(
                _diagnostic(self._mark(event), path, f"duplicate key '{key}' (first at line {first_line})")
            )
        else:
            self.key_marks[path] = self._mark(event)
        top.key = key

    def _open(self, event: yaml.Event) -> None:
        if self._awaiting_key():
            self._fatal(event, self.stack[-1].path, "a key must be a word or text, not a list or mapping")
        if len(self.stack) >= self.max_depth:
            self._fatal(event, self._path(), self.too_deep())
        container: dict | list = {} if isinstance(event, yaml.MappingStartEvent) else []
        path = self._place(container, self._mark(event))
        self.stack.append(_Frame(container, path))

    def _place(self, value: Any, mark: Mark) -> tuple:
        path = self._path()
        if self.stack:
            top = self.stack[-1]
            if isinstance(top.container, list):
                top.container.append(value)
            else:
                top.container[top.key] = value
                top.key = None
        else:
            self.data = value
        self.marks[path] = mark
        return path

    def _close(self) -> None:
        frame = self.stack.pop()
        if isinstance(frame.container, dict) and "include" in frame.container:
            self._splice_include(frame, frame.container)

    def _splice_include(self, frame: _Frame, mapping: dict) -> None:
        """Replace `{include: file}` (`mapping`, the frame's container) by the file's data and marks."""
        path = frame.path + ("include",)
        if len(mapping) > 1:
            message = "'include' must be the only key in its mapping; move the other keys into the included file"
            self.errors.append(_diagnostic(self.key_marks[path], path, message))
            return
        try:
            included = self.include(mapping["include"], self.marks[path], path)
        except AuthorErrors as errors:
            self.errors.extend(errors.diagnostics)
            return
        for table in (self.marks, self.key_marks):
            table.pop(path, None)
        self.marks.update({frame.path + sub: mark for sub, mark in included.marks.items()})
        self.key_marks.update({frame.path + sub: mark for sub, mark in included.key_marks.items()})
        if self.stack:
            self.stack[-1].container[frame.path[-1]] = included.data
        else:
            self.data = included.data


class _Loader:
    """Loads a file and, recursively, the files it includes."""

    def __init__(self, root: Path, halls_dir: Path, options: LoadOptions):
        self.root = root
        self.halls_dir = halls_dir
        self.options = options

    def load(self, path: Path, chain: tuple[Path, ...]) -> Document:
        file = display_path(path, self.root)
        text = _decode(_read(path, file, self.options.max_bytes), file)
        chain = chain + (path.resolve(),)
        builder = self._build(text, file, chain)
        if builder.errors:
            raise AuthorErrors(builder.errors)
        if builder.data is None and builder.marks.keys() <= {()}:
            hint = "; a hall file starts with keys like 'id:' and 'title:'" if len(chain) == 1 else ""
            raise _file_error(file, "the file is empty" + hint)
        return Document(file, builder.data, builder.marks, builder.key_marks)

    def _build(self, text: str, file: str, chain: tuple[Path, ...]) -> _Builder:
        builder = _Builder(file, self.options.max_depth, lambda value, mark, at: self._include(value, mark, at, chain))
        try:
            builder.build(yaml.parse(text, Loader=_Parser))
        except _Fatal:
            pass
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            if "maximum nesting depth" in str(error) and mark is not None:
                # libyaml scans deep [[[... ahead and stops at its own limit (1000) before we see the
                # events, so our own depth check never fires: report it at libyaml's mark instead.
                where = (file, mark.line + 1, mark.column + 1)
                builder.errors.append(_diagnostic(where, builder.current_path(), builder.too_deep()))
            else:
                builder.errors.append(_syntax_error(error, text, file))
        return builder

    def _include(self, value: Any, mark: Mark, path: tuple, chain: tuple[Path, ...]) -> Document:
        """The included document; `AuthorErrors` when it cannot be included or loaded."""
        try:
            target = self._include_target(value, chain)
            return self.load(target, chain)
        except _IncludeProblem as problem:
            raise AuthorErrors([_diagnostic(mark, path, str(problem))]) from None

    def _include_target(self, value: Any, chain: tuple[Path, ...]) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise _IncludeProblem("include needs a file name, like 'include: shared/quiz.yaml'")
        if "\\" in value:
            raise _IncludeProblem(f"use '/' in include paths, not '\\': '{value}'")
        relative = PurePosixPath(value)
        if relative.is_absolute() or re.match(r"^[A-Za-z]:", value):
            message = f"include path '{value}' must be relative to the halls folder, like 'shared/quiz.yaml'"
            raise _IncludeProblem(message)
        if ".." in relative.parts:
            raise _IncludeProblem(f"include path '{value}' must stay inside the halls folder; remove '..'")
        if relative.suffix not in (".yaml", ".yml"):
            raise _IncludeProblem(f"can only include .yaml files, not '{value}'")
        target = self.halls_dir / relative
        if not target.resolve().is_relative_to(self.halls_dir.resolve()):
            raise _IncludeProblem(f"include path '{value}' leads outside the halls folder")
        if not target.is_file():
            raise _IncludeProblem(f"no such file to include: '{value}'{did_you_mean(value, self._snippets())}")
        if target.resolve() in chain:
            cycle = chain[chain.index(target.resolve()) :] + (target.resolve(),)
            raise _IncludeProblem("include cycle: " + " -> ".join(self._relative(p) for p in cycle))
        if len(chain) > self.options.max_include_depth:
            raise _IncludeProblem(f"includes are nested more than {self.options.max_include_depth} deep")
        return target

    def _relative(self, path: Path) -> str:
        return display_path(path, self.halls_dir.resolve())

    def _snippets(self) -> list[str]:
        found = []
        for folder, _, names in os.walk(self.halls_dir):
            for name in names:
                if name.endswith((".yaml", ".yml")):
                    found.append(PurePosixPath(*Path(folder, name).relative_to(self.halls_dir).parts).as_posix())
            if len(found) > 2000:
                break
        return found


class _IncludeProblem(Exception):
    """Why an include value cannot be followed."""
