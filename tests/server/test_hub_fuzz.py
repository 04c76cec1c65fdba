"""Property-based fuzzing of the hub over real WebSockets: no frame makes it fail.

One live hub (`build_app` from test_hub_support, a real aiohttp server on an ephemeral port, in a thread with
its own event loop) serves the whole module.  Two well-behaved members stay in its hall throughout: a walker
that sends poses at three times the tick rate and a watcher that counts the pose batches it receives.
Hypothesis builds scripts for one raw WebSocket client at a time (every byte written by the test): valid
messages of every client type from strategies that follow `halls_contract.hub`'s models, mutated ones (a wrong
JSON type at a random path, a missing or extra field, NaN/Infinity, huge numbers, unknown types, a wrong or
missing protocol version, not an object), truncated JSON, text frames that are not UTF-8, binary frames of
random length (truncated pose batches among them), oversized frames and frame headers, fragmented messages,
ping/pong/close frames at odd times (before joining, between fragments, after an error), frames RFC 6455
forbids (reserved opcodes and bits, stray continuations, long or fragmented control frames, bad close codes),
floods over and under the rate limits, and the TCP written whole, frame by frame or a few bytes at a time, then
closed, half-closed or dropped.  A model of the protocol (written from the contract's docstring, not from the
server's code) says what each script must get back.  Further tests: handshakes of every shape, clients that
stall mid-frame, members that stop reading, and memory over many connections.  Properties:

- the server logs no traceback (records of the `server`, `aiohttp` and `asyncio` loggers with exception
  information or at ERROR and above; aiohttp's own 400s for requests that are not HTTP are counted apart);
- every client gets exactly the documented replies (welcome, pong, tour cues, errors) and a pong for each
  ping frame, and every frame the server sends is well formed (JSON following the contract's server models,
  or a whole pose batch);
- a bad client is closed with the protocol's code (1008 policy, 1009 too big, 1003 binary, 1007 not UTF-8,
  1002 a frame WebSocket forbids, 1013 a slow consumer) and a reason naming the problem; a client that closes
  gets 1000; none is left hanging (a stalled one is closed by the join timeout or dropped by the heartbeat);
- the hall's other members keep their tick: the watcher receives at least 70% of the batches the tick rate
  promises over the run (and 50% during any test over 2 s);
- memory stays bounded: no connection's backlog ever exceeds `queue_limit` (sampled every 4 ms), every fuzz
  connection is gone from the hub's `connections` and the hall's members once it closes, and the traced
  memory grows by less than `MEMORY_BOUND` over `MEMORY_CONNECTIONS` fuzz connections.

The run is derandomized (the same examples every time, no example database) and bounded for CI (about 25 s on
a quiet 2-core machine); a longer run on demand:

    HALLS_FUZZ_EXAMPLES=1000 .venv/bin/pytest -q -s -p no:cacheprovider tests/server/test_hub_fuzz.py

`HALLS_FUZZ_EXAMPLES` (default 100) scales every test: valid sessions that many, bad frames twice as many,
floods and handshakes half as many, memory max(150, that many) connections measured; with `-s` the frames sent
by kind, the close codes seen, the ticks kept and the memory growth are printed at the end.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging
import math
import os
import resource
import socket
import struct
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from halls_contract import hub as contract
from server.hub.service import HUB
from tests.server.test_hub_support import MANIFEST, HubClient, build_app

EXAMPLES = int(os.environ.get("HALLS_FUZZ_EXAMPLES", "100"))


def fuzz_settings(share: float) -> settings:
    return settings(
        max_examples=max(5, round(EXAMPLES * share)),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )


# The hub under test: fast ticks, a short heartbeat and join timeout so that stalled clients end quickly,
# a small send buffer so that backlogs are used, a pose rate the walker stays under.
TICK_HZ = 20.0
WALK_HZ = 3 * TICK_HZ
"""The walker's poses a second: a new pose in every tick even when the machine is busy."""
MAX_RATE_HZ = 100.0
CONTROL_RATE_HZ = 5.0
BURST_S = 5.0
LIMIT = 4096
QUEUE_LIMIT = 16
HEARTBEAT = 1.0
JOIN_TIMEOUT = 1.0
"""Shorter than the heartbeat takes to drop a silent socket (1.5 heartbeats): silent newcomers get 1008."""
CONFIG: dict[str, Any] = dict(
    hub_tick_hz=TICK_HZ,
    hub_max_rate_hz=MAX_RATE_HZ,
    hub_control_rate_hz=CONTROL_RATE_HZ,
    hub_rate_burst=BURST_S,
    hub_max_message_bytes=LIMIT,
    hub_queue_limit=QUEUE_LIMIT,
    hub_send_buffer=8192,
    hub_heartbeat=HEARTBEAT,
    hub_join_timeout=JOIN_TIMEOUT,
)
POSE_BURST = int(MAX_RATE_HZ * BURST_S)
CONTROL_BURST = int(CONTROL_RATE_HZ * BURST_S)
FRAME_LIMIT = 4 * LIMIT
"""aiohttp's own limit (`max_msg_size`): a message of this many bytes or more is refused while its header is read."""
TICKS_KEPT = 0.7
"""Share of the tick rate's batches the watcher must receive over the run."""
TICKS_KEPT_PER_TEST = 0.5
"""... and during every test (some are a few seconds long: a busy machine shows more)."""
MEMORY_CONNECTIONS = max(150, EXAMPLES)
MEMORY_BOUND = max(512_000, 1000 * MEMORY_CONNECTIONS)
"""Bytes the traced memory may grow over `MEMORY_CONNECTIONS` fuzz connections (after as many to warm up):
512 KB at the default count (under 3.5 KB a connection), 1 KB a connection in longer runs.  Keeping each closed
connection's `Connection` object alone (with its socket and request) costs about 12 KB a connection; runs without
a leak measured between -32 KB and +340 KB (1,000 connections)."""

TRAINER_KEY = "sesame"  # hub_config's trainer_key
ROOMS = tuple(room["id"] for room in MANIFEST["rooms"])
EXHIBITS = tuple(exhibit["id"] for exhibit in MANIFEST["exhibits"])
VALID_CLOSE_CODES = (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999)
INVALID_CLOSE_CODES = (0, 1, 999, 1004, 1005, 1015, 1016, 2000, 2999)
BAD_UTF8 = (b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82")

# What the module saw, printed at the end (with -s) and recorded in BENCHMARKS.md.
SENT: Counter = Counter()
"""Frames the fuzz clients sent, by kind."""
CLOSES: Counter = Counter()
"""Close codes the fuzz clients got ("aborted": the client dropped the connection itself)."""
FIGURES: dict[str, Any] = {}


# --- the wire: frames a client writes --------------------------------------------


def _masked(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    size = len(payload)
    keys = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(size, "big")


def ws_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes = b"\x37\xfa\x21\x3d",
    length: int | None = None,
) -> bytes:
    """One masked client frame (`length` overrides the declared payload length)."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    return head + key + _masked(payload, key)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


# --- the model: what the contract says the hub does ------------------------------


@dataclass
class Script:
    """What one fuzz client sends, and what it must get back."""

    actions: list[str] = field(default_factory=list)
    """Kinds of what was sent, in order (for the report and for reading a failure)."""
    wire: list[bytes] = field(default_factory=list)
    """Bytes to write, one entry per action."""
    write: str = "whole"
    """`whole`: one write; `frames`: one write per action; `dribble`: a few bytes at a time."""
    end: str = "close"
    """After writing: `close` (send a close frame), `eof` (shut the TCP write side) or `abort` (drop the TCP)."""
    replies: list[dict] = field(default_factory=list)
    """JSON replies expected (each a subset of the message received), in order; roster messages aside."""
    pongs: list[bytes] = field(default_factory=list)
    code: int | None = None
    """Close code expected (None until something closes the connection)."""
    reason: str = ""
    """What the close reason must start with."""
    loose: bool = False
    """A flood closes it somewhere in the middle: replies and pongs after the expected ones may follow."""
    frames: Counter = field(default_factory=Counter)

    # state of the connection as the model sees it
    joined: bool = False
    role: str = "member"
    tour: bool = False
    following: bool = False
    poses: int = 0
    control: int = 0
    fragments: int = 0
    """Bytes of a fragmented data message received so far."""
    fragment_opcode: int = 0

    def __repr__(self) -> str:
        size = sum(len(chunk) for chunk in self.wire)
        return (
            f"Script({' '.join(self.actions)} | write={self.write} end={self.end} bytes={size} -> "
            f"code={self.code} reason={self.reason!r} replies={len(self.replies)} pongs={len(self.pongs)})"
        )

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis prints failing examples with this
        printer.text(repr(self))

    @property
    def closed(self) -> bool:
        return self.code is not None

    def close(self, code: int, reason: str, *, loose: bool = False) -> None:
        if not self.closed:
            self.code, self.reason, self.loose = code, reason, loose

    def add(self, kind: str, chunks: list[bytes], frames: int | None = None) -> None:
        self.actions.append(kind)
        self.wire.append(b"".join(chunks))
        self.frames[kind] += len(chunks) if frames is None else frames

    # what the server makes of each frame, in order

    def data_frame(self, opcode: int, size: int, fin: bool) -> bool:
        """A text, binary or continuation frame of `size` bytes; whether it completes a message."""
        if self.closed:
            return False
        if opcode == 0 and not self.fragment_opcode:
            self.close(1002, "protocol error: continuation frame for non started message")
            return False
        if opcode != 0 and self.fragment_opcode:
            self.close(1002, "protocol error: the opcode in non-fin frame is expected to be zero")
            return False
        if size >= FRAME_LIMIT - self.fragments:
            self.close(1009, f"message of more than {FRAME_LIMIT - 1} bytes exceeds the limit of {LIMIT}")
            return False
        if not fin:
            self.fragment_opcode = self.fragment_opcode or opcode
            self.fragments += size
            return False
        self.fragment_opcode, self.fragments = 0, 0
        return True

    def binary(self, payload: bytes) -> None:
        if not self.closed:
            self.close(1003, "binary frames are not accepted")

    def text(self, payload: bytes, problem: str | None, message: dict | None) -> None:
        """A whole text message: `problem` is the reason the contract gives for refusing it, if any."""
        if self.closed:
            return
        try:
            payload.decode()
        except UnicodeDecodeError:
            return self.close(1007, "invalid UTF-8")
        if len(payload) > LIMIT:
            return self.close(1009, f"message of {len(payload)} bytes exceeds the limit of {LIMIT}")
        if problem is not None:
            return self.close(1008, problem)
        assert message is not None
        self.message(message)

    def message(self, message: dict) -> None:
        """A message that follows the schema."""
        kind = message["type"]
        if not self.joined:
            if kind != "join":
                return self.close(1008, f"{kind}: send join first")
            if message.get("token"):
                return self.close(1008, "join: session tokens are not enabled on this server")
            name = message["name"].strip()
            if not name:
                return self.close(1008, "join: name must not be blank")
            self.joined = True
            self.role = (
                "trainer" if message.get("role") == "trainer" and message.get("key") == TRAINER_KEY else "member"
            )
            self.replies.append({"type": "welcome", "name": name, "role": self.role, "hall": "alpha"})
            return
        if kind == "pose":
            self.poses += 1
            assert self.poses < POSE_BURST - 20, "a script that is not a flood stays well under the pose burst"
            if message["room"] not in ROOMS:
                return self.close(1008, f"pose.room: no room {message['room']!r}")
            norm = math.sqrt(sum(c * c for c in message["q"]))
            if not 0.9 <= norm <= 1.1:
                return self.close(1008, "pose.q: not a unit quaternion")
            return
        self.control += 1
        assert self.control < CONTROL_BURST - 2, "a script that is not a flood stays under the control burst"
        if kind == "join":
            return self.close(1008, "join: already joined")
        if kind == "ping":
            self.replies.append({"type": "pong", "t": message.get("t")})
        elif kind == "follow":
            if not self.tour:
                return self.error("no-tour", "follow")
            self.following = message["on"]
            self.replies.append({"type": "tour", "event": "following", "on": message["on"]})
            # the leader is this client (nobody else leads tours here): it hears about its own following
            self.replies.append(
                {"type": "tour", "event": "follower", "on": message["on"], "followers": int(message["on"])}
            )
        elif self.role != "trainer":
            self.error("forbidden", kind)
        elif kind == "tour-start":
            self.tour = True
            self.replies.append({"type": "tour", "event": "start"})
        elif not self.tour:
            self.error("not-leader", kind)
        elif kind == "tour-goto":
            if message["exhibit"] not in EXHIBITS:
                return self.error("unknown-exhibit", kind)
            if self.following:
                self.replies.append({"type": "tour", "event": "goto", "exhibit": message["exhibit"]})
        elif kind == "tour-narrate":
            if self.following:
                self.replies.append({"type": "tour", "event": "narrate", "text": message["text"]})
        elif kind == "tour-gather":
            if message["room"] not in ROOMS:
                return self.error("unknown-room", kind)
            if self.following:
                self.replies.append({"type": "tour", "event": "gather", "room": message["room"]})
        elif kind == "tour-end":
            self.replies.append({"type": "tour", "event": "end", "reason": "leader-ended"})
            self.tour = self.following = False

    def error(self, code: str, ref: str) -> None:
        self.replies.append({"type": "error", "code": code, "ref": ref})

    def ping(self, payload: bytes) -> None:
        if not self.closed:
            self.pongs.append(payload)

    def client_close(self, payload: bytes) -> None:
        if self.closed:
            return
        if len(payload) == 1:
            return self.close(1002, "protocol error: invalid close frame")
        if len(payload) >= 2:
            code = struct.unpack("!H", payload[:2])[0]
            if code < 3000 and code not in VALID_CLOSE_CODES:
                return self.close(1002, f"protocol error: invalid close code: {code}")
            try:
                payload[2:].decode()
            except UnicodeDecodeError:
                return self.close(1007, "invalid UTF-8")
        self.close(1000, "")


# --- strategies: messages that follow the contract's models ------------------------

CONTROL_CHARACTERS = "".join(map(chr, range(0x20))) + "\x7f"
coordinate = st.one_of(
    st.integers(-10_000, 10_000),
    st.floats(-10_000, 10_000, allow_nan=False),
    st.sampled_from([10_000, -10_000, 10_000.0, -0.0, 1e-300]),
)
position = st.lists(coordinate, min_size=3, max_size=3)
u32 = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 2**32 - 1]))
text_chars = st.characters(codec="utf-8")
slug = st.text(text_chars, min_size=1, max_size=64)
name_chars = st.characters(codec="utf-8", exclude_characters=CONTROL_CHARACTERS)
display_name = st.one_of(
    st.text(name_chars, min_size=1, max_size=40).filter(lambda name: name.strip(" ") != ""),
    st.sampled_from(["walker", "张三", " padded ", "\u3000", "\x85", "\u2003x\u2003"]),  # some strip to nothing
)


@st.composite
def unit_quaternion(draw) -> list[float]:
    """Length within [0.93, 1]: the hub normalises anything within 10% of unit length."""
    exact = draw(st.sampled_from([None, [0, 0, 0, 1], [0.0, 0.0, 0.7071068, 0.7071068], [-1.0, 0, 0, 0]]))
    if exact is not None:
        return exact
    parts = draw(
        st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda q: math.sqrt(sum(c * c for c in q)) > 0.25)
    )
    norm = math.sqrt(sum(c * c for c in parts))
    scale = draw(st.floats(0.93, 1.0))
    return [c / norm * scale for c in parts]


def optional(strategy) -> st.SearchStrategy:
    """A value, null, or the field left out (`...`)."""
    return st.one_of(st.just(...), st.none(), strategy)


def message(kind: str, **fields) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({"v": st.just(1), "type": st.just(kind), **fields}).map(
        lambda m: {k: v for k, v in m.items() if v is not ...}
    )


def joins(*, trainer: bool | None = None, token: bool = True) -> st.SearchStrategy[dict]:
    role = st.just("trainer") if trainer else st.sampled_from([..., "member", "trainer"])
    key = (
        st.one_of(st.just(TRAINER_KEY), optional(st.text(text_chars, max_size=256)))
        if trainer is not False
        else optional(st.text(text_chars, max_size=20))
    )
    tokens = (
        st.one_of(st.just(...), st.just(...), st.none(), st.text(text_chars, min_size=1, max_size=40))
        if token
        else st.just(...)
    )
    return message("join", name=display_name, role=role, key=key, token=tokens)


poses = message(
    "pose",
    room=st.one_of(st.sampled_from(ROOMS), st.sampled_from(ROOMS), slug),
    p=position,
    q=st.one_of(
        unit_quaternion(),
        unit_quaternion(),
        unit_quaternion(),
        st.sampled_from([[0, 0, 0, 0], [1, 1, 0, 0], [0.5, 0, 0, 0], [1.01, 1.01, 1.01, 1.01]]),
    ),
    t=optional(u32),
)
valid_poses = message("pose", room=st.sampled_from(ROOMS), p=position, q=unit_quaternion(), t=optional(u32))
MESSAGES: dict[str, st.SearchStrategy[dict]] = {
    "join": joins(token=False),
    "pose": poses,
    "tour-start": message("tour-start"),
    "tour-goto": message("tour-goto", exhibit=st.one_of(st.sampled_from(EXHIBITS), slug)),
    "tour-narrate": message(
        "tour-narrate",
        text=st.one_of(
            st.text(text_chars, min_size=1, max_size=200), st.integers(1900, 2000).map(lambda n: ("abc " * 500)[:n])
        ),
    ),
    "tour-gather": message("tour-gather", room=st.one_of(st.sampled_from(ROOMS), slug), p=position),
    "tour-end": message("tour-end"),
    "follow": message("follow", on=st.booleans()),
    "ping": message("ping", t=optional(u32)),
}
assert set(MESSAGES) == set(contract.CLIENT_TYPES), "a strategy for every client message type"
TOUR_MESSAGES = st.sampled_from(
    ["tour-start", "tour-goto", "tour-narrate", "tour-gather", "tour-end", "follow", "follow", "tour-start", "ping"]
).flatmap(MESSAGES.__getitem__)
any_message = st.sampled_from(sorted(MESSAGES)).flatmap(MESSAGES.__getitem__)
well_behaved = st.sampled_from(sorted(set(MESSAGES) - {"join"})).flatmap(
    lambda kind: valid_poses if kind == "pose" else MESSAGES[kind]
)
"""Messages after joining that never close the connection (tour requests may be refused with an error)."""


@st.composite
def serialized(draw, value: Any) -> str:
    """JSON text of `value` in one of the ways a client may write it (key order, spacing, escapes, extra fields)."""
    if isinstance(value, dict):
        if draw(st.integers(0, 4)) == 0:
            known = {"v", "type", *FIELDS.get(str(value.get("type")), ())}
            extra = draw(
                st.dictionaries(
                    st.text(text_chars, max_size=10).filter(lambda k: k not in known),
                    json_values,
                    min_size=1,
                    max_size=3,
                )
            )
            value = {**value, **extra}
        keys = draw(st.permutations(list(value)))
        value = {k: value[k] for k in keys}
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), separators=separators)
    return draw(st.sampled_from(["", " ", "\n", "\t\r\n"])) + text + draw(st.sampled_from(["", " ", "\n"]))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(text_chars, max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


ACCEPTS = {
    "str": lambda v: isinstance(v, str),
    "str?": lambda v: v is None or isinstance(v, str),
    "u32?": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
    "number": _is_number,
    "bool": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
}
"""The JSON types each kind of field accepts (from the models: strict, so no coercion between types)."""
FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "join": {"name": ("str", True), "role": ("str", False), "key": ("str?", False), "token": ("str?", False)},
    "pose": {"room": ("str", True), "p": ("array", True), "q": ("array", True), "t": ("u32?", False)},
    "tour-start": {},
    "tour-goto": {"exhibit": ("str", True)},
    "tour-narrate": {"text": ("str", True)},
    "tour-gather": {"room": ("str", True), "p": ("array", True)},
    "tour-end": {},
    "follow": {"on": ("bool", True)},
    "ping": {"t": ("u32?", False)},
}
"""Each message type's fields: (kind, required)."""
OUT_OF_RANGE = {
    "coordinate": st.one_of(
        st.floats(10_000.001, 1e308),
        st.integers(10_001, 10**30),
        st.floats(-1e308, -10_000.001),
        st.sampled_from([10**400, -(10**400)]),
    ),
    "quaternion": st.one_of(st.floats(1.0101, 1e308), st.floats(-1e308, -1.0101), st.integers(2, 10**20)),
    "u32": st.one_of(st.integers(-(2**70), -1), st.integers(2**32, 2**70), st.just(10**400)),
    "name": st.one_of(
        st.just(""),
        st.text(name_chars, min_size=41, max_size=60),
        st.sampled_from(["   ", "a\x00b"]),
        st.text(text_chars, min_size=1, max_size=5).map(lambda s: s + "\x07"),
    ),
    "slug": st.one_of(st.just(""), st.text("abc", min_size=65, max_size=100)),
    "narration": st.one_of(st.just(""), st.integers(2001, 2100).map(lambda n: ("ab " * 700)[:n])),
    "key": st.integers(257, 300).map(lambda n: "k" * n),
    "token": st.integers(513, 600).map(lambda n: "t" * n),
    "role": st.text(text_chars, max_size=10).filter(lambda r: r not in ("member", "trainer")),
}
RANGES = {
    ("join", "name"): "name",
    ("join", "role"): "role",
    ("join", "key"): "key",
    ("join", "token"): "token",
    ("pose", "room"): "slug",
    ("pose", "t"): "u32",
    ("ping", "t"): "u32",
    ("tour-goto", "exhibit"): "slug",
    ("tour-narrate", "text"): "narration",
    ("tour-gather", "room"): "slug",
}
NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def _path(parts: tuple) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def _set(value: dict, parts: tuple, new: Any) -> dict:
    value = json.loads(json.dumps(value))
    target = value
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = new
    return value


@st.composite
def mutated(draw, base: dict) -> tuple[str, str, str]:
    """A message the contract refuses: (how it was broken, JSON text, what the close reason starts with)."""
    kind = base["type"]
    fields = FIELDS[kind]
    ways = ["unknown-type", "missing-type", "wrong-version", "missing-version", "not-an-object"]
    if fields:
        ways += ["wrong-type"] * 3
    if any(required for _, required in fields.values()):
        ways += ["missing-field"]
    if kind in ("pose", "tour-gather") or any((kind, name) in RANGES for name in fields):
        ways += ["out-of-range"] * 2
    if kind in ("pose", "tour-gather", "ping", "follow"):
        ways += ["not-finite"]
    way = draw(st.sampled_from(ways))
    vectors = {"p": 3, "q": 4} if kind == "pose" else {"p": 3} if kind == "tour-gather" else {}
    if way == "unknown-type":
        new = draw(
            st.one_of(
                st.text(text_chars, max_size=12).filter(lambda t: t not in contract.CLIENT_TYPES),
                st.none(),
                st.integers(),
                st.booleans(),
                st.lists(st.integers(), max_size=2),
            )
        )
        return way, json.dumps(_set(base, ("type",), new)), "unknown message type"
    if way == "missing-type":
        return way, json.dumps({k: v for k, v in base.items() if k != "type"}), "missing field 'type'"
    if way == "wrong-version":
        new = draw(json_values.filter(lambda v: not (_is_number(v) and v == 1)) | NOT_FINITE)
        return way, json.dumps(_set(base, ("v",), new)), "unsupported protocol version"
    if way == "missing-version":
        return way, json.dumps({k: v for k, v in base.items() if k != "v"}), "missing field 'v'"
    if way == "not-an-object":
        new = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return way, json.dumps(new), "message must be a JSON object"
    if way == "missing-field":
        name = draw(st.sampled_from([n for n, (_, required) in fields.items() if required]))
        return way, json.dumps({k: v for k, v in base.items() if k != name}), f"{kind}.{name}: field required"
    paths: list[tuple[tuple[str | int, ...], str]]
    if way == "wrong-type":
        paths = [((name,), accepts) for name, (accepts, _) in fields.items()]
        paths += [((name, i), "number") for name, size in vectors.items() for i in range(size)]
        parts, accepts = draw(st.sampled_from(paths))
        new = draw(json_values.filter(lambda v: not ACCEPTS[accepts](v)))
        return way, json.dumps(_set(base, parts, new)), f"{kind}{_path(parts)}"
    if way == "not-finite":
        paths = [((name, i), "number") for name, size in vectors.items() for i in range(size)]
        paths += [((name,), "number") for name in fields if name in ("t", "on")]
        parts, _ = draw(st.sampled_from(paths))
        return way, json.dumps(_set(base, parts, draw(NOT_FINITE))), f"{kind}{_path(parts)}"
    # out of range
    paths = [((name,), RANGES[kind, name]) for name in fields if (kind, name) in RANGES]
    paths += [
        ((name, i), "coordinate" if name == "p" else "quaternion")
        for name, size in vectors.items()
        for i in range(size)
    ]
    parts, limit = draw(st.sampled_from(paths))
    return way, json.dumps(_set(base, parts, draw(OUT_OF_RANGE[limit]))), f"{kind}{_path(parts)}"


# --- strategies: scripts --------------------------------------------------------------


keys = st.binary(min_size=4, max_size=4)


def fragment(draw, script: Script, opcode: int, payload: bytes) -> tuple[list[bytes], bool]:
    """`payload` as one frame or several, with ping frames between the fragments now and then.

    The frames and whether the server reads the message whole (not cut off by a frame it refuses first).
    """
    pieces = 1 if len(payload) < 2 else draw(st.sampled_from([1, 1, 1, 2, 3, 5]))
    cuts = sorted(draw(st.lists(st.integers(0, len(payload)), min_size=pieces - 1, max_size=pieces - 1)))
    bounds = [0, *cuts, len(payload)]
    chunks, complete = [], False
    for i, (start, end) in enumerate(zip(bounds, bounds[1:])):
        last = i == pieces - 1
        chunks.append(ws_frame(opcode if i == 0 else 0, payload[start:end], fin=last, key=draw(keys)))
        complete = script.data_frame(opcode if i == 0 else 0, end - start, last)
        if not last and draw(st.integers(0, 3)) == 0:
            ping = draw(st.binary(max_size=20))
            chunks.append(ws_frame(0x9, ping, key=draw(keys)))
            script.ping(ping)
    return chunks, complete


def send_text(draw, script: Script, kind: str, payload: bytes, problem: str | None, message: dict | None) -> None:
    chunks, complete = fragment(draw, script, 1, payload)
    if complete:
        script.text(payload, problem, message)
    script.add(kind, chunks)


def send_binary(draw, script: Script, kind: str, payload: bytes) -> None:
    chunks, complete = fragment(draw, script, 2, payload)
    if complete:
        script.binary(payload)
    script.add(kind, chunks)


def send_message(draw, script: Script, value: dict, kind: str = "valid") -> None:
    text = draw(serialized(value))
    send_text(draw, script, kind, text.encode(), None, value)


def act_valid(draw, script: Script) -> None:
    send_message(draw, script, draw(TOUR_MESSAGES if script.role == "trainer" else any_message))


def act_well_behaved(draw, script: Script) -> None:
    send_message(draw, script, draw(TOUR_MESSAGES if script.role == "trainer" else well_behaved))


def act_mutated(draw, script: Script) -> None:
    way, text, problem = draw(mutated(draw(any_message)))
    send_text(draw, script, f"mutated:{way}", text.encode(), problem, None)


def act_truncated(draw, script: Script) -> None:
    text = json.dumps(draw(any_message))
    cut = draw(st.integers(0, len(text) - 1))
    send_text(draw, script, "truncated-json", text[:cut].encode(), "malformed JSON", None)


def act_not_utf8(draw, script: Script) -> None:
    payload = json.dumps(draw(any_message), ensure_ascii=False).encode()
    at = draw(st.integers(0, len(payload)))
    payload = payload[:at] + draw(st.sampled_from(BAD_UTF8)) + payload[at:]
    try:
        payload.decode()
    except UnicodeDecodeError:
        pass
    else:  # pragma: no cover - every inserted sequence breaks UTF-8
        assume(False)
    send_text(draw, script, "invalid-utf8", payload, None, None)


def act_binary(draw, script: Script) -> None:
    if draw(st.booleans()):
        records = [
            contract.pose_record(i, i, (1.0, 2.0, 0.0), (0, 0, 0, 1), 0, 0) for i in range(draw(st.integers(0, 3)))
        ]
        batch = contract.pack_pose_batch(draw(u32), records)
        payload = batch[: draw(st.integers(0, len(batch)))]
        kind = "binary-pose-batch"
    else:
        payload = draw(st.binary(max_size=600))
        kind = "binary-random"
    send_binary(draw, script, kind, payload)


def act_oversized(draw, script: Script) -> None:
    size = draw(
        st.one_of(
            st.integers(LIMIT - 8, LIMIT + 8),
            st.integers(LIMIT, FRAME_LIMIT + 8),
            st.integers(FRAME_LIMIT - 4, 3 * FRAME_LIMIT),
        )
    )
    if draw(st.integers(0, 4)) == 0:  # big binary
        pattern = draw(st.binary(min_size=1, max_size=16))
        return send_binary(draw, script, "oversized-binary", (pattern * (size // len(pattern) + 1))[:size])
    wide = draw(st.booleans())  # pad with 2-byte characters: fewer characters than bytes
    base = {"v": 1, "type": "ping", "t": 7, "pad": ""}
    room = size - len(json.dumps(base, ensure_ascii=False, separators=(",", ":")).encode())
    pad = "é" * (room // 2) + "x" * (room % 2) if wide else "x" * room
    if room < 0:
        pad = ""
    value = {**base, "pad": pad}
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    send_text(draw, script, "oversized-text", payload, None, value)


def act_huge_header(draw, script: Script) -> None:
    """A frame that declares a payload far beyond any limit and never sends it."""
    size, opcode = draw(st.sampled_from([FRAME_LIMIT, 2**20, 2**40, 2**63 - 1])), draw(st.sampled_from([1, 2]))
    script.data_frame(opcode, size, True)
    script.add("huge-header", [ws_frame(opcode, b"", length=size, key=draw(keys))])


def act_control(draw, script: Script) -> None:
    which = draw(
        st.sampled_from(
            [
                "ping",
                "ping",
                "pong",
                "ping-too-long",
                "ping-fragmented",
                "close",
                "close-empty",
                "close-bad-code",
                "close-one-byte",
                "close-bad-utf8",
            ]
        )
    )
    key = draw(keys)
    if which == "ping":
        payload = draw(st.binary(max_size=125))
        script.ping(payload)
        chunk = ws_frame(0x9, payload, key=key)
    elif which == "pong":
        chunk = ws_frame(0xA, draw(st.binary(max_size=125)), key=key)
    elif which == "ping-too-long":
        chunk = ws_frame(0x9, draw(st.binary(min_size=126, max_size=300)), key=key)
        script.close(1002, "protocol error: control frame payload cannot be larger than 125 bytes")
    elif which == "ping-fragmented":
        chunk = ws_frame(0x9, draw(st.binary(max_size=10)), fin=False, key=key)
        script.close(1002, "protocol error: received fragmented control frame")
    else:
        if which == "close":
            payload = close_payload(draw(st.sampled_from(VALID_CLOSE_CODES)), draw(st.text(max_size=30)).encode()[:120])
        elif which == "close-empty":
            payload = b""
        elif which == "close-bad-code":
            payload = close_payload(draw(st.sampled_from(INVALID_CLOSE_CODES)))
        elif which == "close-one-byte":
            payload = draw(st.binary(min_size=1, max_size=1))
        else:
            payload = close_payload(1000, b"bye" + draw(st.sampled_from(BAD_UTF8)))
        script.client_close(payload)
        chunk = ws_frame(0x8, payload, key=key)
    script.add(f"control:{which}", [chunk])


def act_bad_frame(draw, script: Script) -> None:
    which = draw(st.sampled_from(["reserved-opcode", "reserved-bits", "stray-continuation", "interrupted-fragment"]))
    key = draw(keys)
    if which == "reserved-opcode":
        opcode = draw(st.sampled_from([3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]))
        chunks = [ws_frame(opcode, draw(st.binary(max_size=20)), key=key)]
        script.close(1002, "protocol error: unexpected opcode")
    elif which == "reserved-bits":
        opcode = draw(st.sampled_from([1, 2, 0x9, 0xA]))
        chunks = [ws_frame(opcode, b"{}", rsv=draw(st.integers(1, 7)), key=key)]
        script.close(1002, "protocol error: received frame with non-zero reserved bits")
    elif which == "stray-continuation":
        chunks = [ws_frame(0, b'{"v":1}', fin=draw(st.booleans()), key=key)]
        script.data_frame(0, 7, True)
    else:
        chunks = [ws_frame(1, b'{"v":1,', fin=False, key=key), ws_frame(draw(st.sampled_from([1, 2])), b"{}", key=key)]
        script.data_frame(1, 7, False)
        script.data_frame(1, 2, True)
    script.add(f"frame:{which}", chunks)


def act_semantic(draw, script: Script) -> None:
    """Schema-valid messages the hub refuses or answers with an error: unknown rooms, non-unit quaternions, tours."""
    send_message(draw, script, draw(st.one_of(poses, TOUR_MESSAGES)), "semantic")


@st.composite
def scripts(draw, *, bad: bool, flood: bool = False, max_actions: int = 8) -> Script:
    """One fuzz client's session: control frames before joining, a first message, actions, an end."""
    script = Script()
    script.write = draw(st.sampled_from(["whole", "whole", "frames", "dribble"]))
    script.end = draw(
        st.sampled_from(["close", "close", "close", "eof", "abort"] if bad else ["close", "close", "eof"])
    )
    for _ in range(draw(st.integers(0, 2))):
        payload = draw(st.binary(max_size=125))
        if draw(st.booleans()):
            script.ping(payload)
            script.add("control:ping", [ws_frame(0x9, payload, key=draw(keys))])
        else:
            script.add("control:pong", [ws_frame(0xA, payload, key=draw(keys))])
    if bad:
        first = draw(st.sampled_from(["join"] * 6 + ["trainer"] * 2 + ["join-mutated", "other", "join-token"]))
    else:
        first = draw(st.sampled_from(["join", "join", "trainer"]))
    if first == "join-mutated":
        way, text, problem = draw(mutated(draw(joins())))
        send_text(draw, script, f"mutated:{way}", text.encode(), problem, None)
    elif first == "other":
        act_valid(draw, script)
    else:
        value = draw(joins(trainer=first == "trainer", token=first == "join-token"))
        if not bad:
            assume(value["name"].strip() and not value.get("token"))
        send_message(draw, script, value, "join")
    actions = (
        [act_well_behaved, act_well_behaved, valid_control]
        if not bad
        else [
            act_valid,
            act_valid,
            act_semantic,
            act_mutated,
            act_mutated,
            act_mutated,
            act_truncated,
            act_not_utf8,
            act_binary,
            act_oversized,
            act_control,
            act_control,
            act_bad_frame,
            act_huge_header,
        ]
    )
    for _ in range(draw(st.integers(0, max_actions))):
        draw(st.sampled_from(actions))(draw, script)
    if flood:
        act_flood(draw, script)
        for _ in range(draw(st.integers(0, 2))):
            draw(st.sampled_from(actions))(draw, script)
    if script.write == "dribble" and sum(map(len, script.wire)) > 6000:
        script.write = "frames"
    assert bad or script.code is None
    return script


def valid_control(draw, script: Script) -> None:
    if draw(st.booleans()):
        payload = draw(st.binary(max_size=125))
        script.ping(payload)
        script.add("control:ping", [ws_frame(0x9, payload, key=draw(keys))])
    else:
        script.add("control:pong", [ws_frame(0xA, draw(st.binary(max_size=125)), key=draw(keys))])


def act_flood(draw, script: Script) -> None:
    """Many messages in one burst: well over or well under the rate limits, or ping frames."""
    which = draw(st.sampled_from(["poses-over", "poses-under", "pings-over", "pings-under", "ping-frames"]))
    key = draw(keys)
    if which == "ping-frames":
        count = draw(st.integers(20, 600))
        payload = draw(st.binary(max_size=125))
        for _ in range(count):
            script.ping(payload)
        script.add(f"flood:{which}", [ws_frame(0x9, payload, key=key)] * count)
        return
    if which.startswith("poses"):
        value = draw(valid_poses)
        over, under = POSE_BURST - script.poses, POSE_BURST - 60 - script.poses
    else:
        value = draw(MESSAGES["ping"])
        over, under = CONTROL_BURST - script.control, CONTROL_BURST - 5 - script.control
    count = draw(st.integers(over + 60, over + 250) if which.endswith("over") else st.integers(0, max(0, under)))
    payload = json.dumps(value).encode()
    for _ in range(count):
        if script.joined and which.endswith("over"):  # some are taken, then the limit closes it
            script.close(1008, "rate limit: more than", loose=True)
        script.text(payload, None, value)
    script.add(f"flood:{which}", [ws_frame(1, payload, key=key)] * count)


# --- a raw client --------------------------------------------------------------------


class RawClient:
    """A WebSocket client that writes whatever bytes it is given and checks every frame the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.texts: list[dict] = []
        self.pongs: list[bytes] = []
        self.batches = 0
        self.close: tuple[int | None, str] | None = None
        self.violations: list[str] = []
        """Frames from the server that break RFC 6455 or the contract."""
        self.writing = True
        """While the script is being written, pings from the server are answered afterwards (not mid-frame)."""
        self.owed: list[bytes] = []
        self.sent_close = False
        self.sent_eof = False
        self.reading = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(
        cls, host: str, port: int, path: str = "/ws/halls/alpha", *, receive_buffer: int | None = None
    ) -> RawClient:
        """Open a WebSocket (`receive_buffer`: a small SO_RCVBUF, for a client that stops reading)."""
        sock = socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        return cls(reader, writer)

    async def _read(self) -> None:
        read = self.reader.readexactly
        try:
            while True:
                first, second = await read(2)
                if second & 0x80 or first & 0x70 or not first & 0x80:
                    self.violations.append(f"masked, reserved bits or fragmented: {first:#x} {second:#x}")
                size = second & 0x7F
                if size == 126:
                    size = struct.unpack("!H", await read(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", await read(8))[0]
                payload = await read(size)
                opcode = first & 0x0F
                if opcode == 0x1:
                    self._text(payload)
                elif opcode == 0x2:
                    self._batch(payload)
                elif opcode == 0x9:
                    self.owed.append(payload)
                    self._pay()
                elif opcode == 0xA:
                    self.pongs.append(payload)
                elif opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    try:
                        self.close = (code, payload[2:].decode())
                    except UnicodeDecodeError:
                        self.violations.append(f"close reason not UTF-8: {payload!r}")
                        self.close = (code, "")
                    if not self.sent_close:
                        self.sent_close = True
                        self._write(ws_frame(0x8, payload[:2]))
                    return
                else:
                    self.violations.append(f"opcode {opcode}")
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    def _text(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
            contract.parse_server_message(message)
        except ValueError as error:
            self.violations.append(f"text frame {payload[:80]!r}: {error}")
            return
        if message["type"] not in ("joined", "left"):
            self.texts.append(message)

    def _batch(self, payload: bytes) -> None:
        self.batches += 1
        try:
            count = contract.BATCH_HEADER.unpack_from(payload)[2]
            contract.unpack_pose_batch(payload)
            if len(payload) != contract.BATCH_HEADER.size + count * contract.POSE_RECORD.size or not count:
                raise ValueError(f"{len(payload)} bytes for {count} records")
        except (ValueError, struct.error) as error:
            self.violations.append(f"binary frame: {error}")

    def _pay(self) -> None:
        """Answer the server's pings once the script is written."""
        if not self.writing:
            for payload in self.owed:
                self._write(ws_frame(0xA, payload))
            self.owed.clear()

    def _write(self, data: bytes) -> None:
        if not self.sent_eof and not self.writer.is_closing():
            self.writer.write(data)

    async def play(self, script: Script) -> None:
        """Write the script, then end as it says."""
        writer = self.writer
        try:
            if script.write == "whole":
                chunks = [b"".join(script.wire)]
            elif script.write == "frames":
                chunks = script.wire
            else:  # 1 to 7 bytes at a time
                data, chunks, start = b"".join(script.wire), [], 0
                while start < len(data):
                    chunks.append(data[start : start + len(chunks) % 7 + 1])
                    start += len(chunks[-1])
            for chunk in chunks:
                if writer.is_closing():
                    break
                writer.write(chunk)
                if len(chunks) > 1:
                    await writer.drain()
                    await asyncio.sleep(0)
            self.writing = False
            self._pay()
            if writer.is_closing():
                pass
            elif script.end == "close":
                self.sent_close = True
                writer.write(ws_frame(0x8, close_payload(1000)))
            elif script.end == "eof":
                self.sent_eof = True
                writer.write_eof()
            elif script.end == "abort":
                writer.transport.abort()
            await writer.drain()
        except OSError:
            pass  # the server closed first: what it sent is still read

    async def finish(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(self.reading), timeout)
        finally:
            self.writer.transport.abort()
            self.reading.cancel()


# --- the live hub ----------------------------------------------------------------------


class Tracebacks(logging.Handler):
    """Collects every record with exception information, or at ERROR and above.

    Except aiohttp's own log of a request that is not HTTP (`HttpProcessingError`: garbage behind a declined
    upgrade, a missing Host header): aiohttp answers those 400 before any handler runs, and logs them with a
    traceback at ERROR all the same; they are counted apart.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.warnings: Counter = Counter()
        self.bad_http = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and isinstance(record.exc_info[1], HttpProcessingError):
            self.bad_http += 1
        elif record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)
        elif record.levelno >= logging.WARNING:
            self.warnings[record.getMessage().split(" peer=")[0]] += 1

    def report(self) -> str:
        return "\n".join(self.format(record) for record in self.records[:5])


WATCHED = ("server", "aiohttp", "asyncio")


class LiveHub:
    """The hub and its two well-behaved members, on an event loop in a thread of their own."""

    def __init__(self, handler: Tracebacks) -> None:
        self.handler = handler
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hub-fuzz", daemon=True)
        self.thread.start()
        self.batches = 0
        self.started = time.monotonic()
        self.max_depth = 0
        self.slowest = 0.0
        """Seconds from connecting to the close of the slowest fuzz connection."""
        self.violations: list[str] = []
        self.tasks: list[asyncio.Task] = []

    def ticks_kept(self) -> float:
        """Batches the watcher received since the module started, as a share of what the tick rate promises."""
        return self.batches / ((time.monotonic() - self.started) * TICK_HZ)

    def call(self, coro, timeout: float = 120.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        self.app = build_app(**CONFIG)
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.host, self.port = self.runner.addresses[0][:2]
        self.hub = self.app[HUB]
        base = f"ws://{self.host}:{self.port}"
        self.walker = await self._member(base, "walker")
        self.watcher = await self._member(base, "watcher")
        await self.watcher.pose("lobby", (2.0, 2.0, 0.0))
        self.members = {self.walker.id, self.watcher.id}
        spawn = self.loop.create_task
        self.tasks = [spawn(self._walk()), spawn(self._drain(self.walker)), spawn(self._watch()), spawn(self._sample())]
        await asyncio.sleep(0.3)

    @staticmethod
    async def _member(base: str, name: str) -> HubClient:
        client = await HubClient.open(base, ping_interval=None)  # its keepalive pings would draw from `random`
        await client.send(type="join", name=name)
        client.welcome = await client.expect("welcome")
        return client

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in (self.walker, self.watcher):
            client.ws.transport.abort()
        await self.runner.cleanup()

    async def _walk(self) -> None:
        step = 0
        while True:
            step += 1
            await self.walker.pose("lobby", (1.0 + 0.01 * (step % 10), 1.0, 0.0), t=step)
            await asyncio.sleep(1 / WALK_HZ)

    async def _drain(self, client: HubClient) -> None:
        async for _ in client.ws:
            pass

    async def _watch(self) -> None:
        """Count the watcher's batches that hold the walker; check every frame it gets; keep it heard."""
        ws, last = self.watcher.ws, time.monotonic()
        while True:
            data = await ws.recv()
            if isinstance(data, bytes):
                _, records = contract.unpack_pose_batch(data)
                if any(record.id == self.walker.id for record in records):
                    self.batches += 1
            else:
                try:
                    contract.parse_server_message(data)
                except ValueError as error:
                    self.violations.append(f"watcher got {data[:80]!r}: {error}")
            if time.monotonic() - last > HEARTBEAT / 3:
                last = time.monotonic()
                await self.watcher.pose("lobby", (2.0, 2.0, 0.0))

    async def _sample(self) -> None:
        """The deepest backlog of any connection, every few milliseconds."""
        while True:
            self.max_depth = max(self.max_depth, max((conn.depth for conn in self.hub.connections), default=0))
            await asyncio.sleep(0.004)

    async def settled(self, timeout: float = 5.0) -> str | None:
        """Wait until only the two members are left; what is left over otherwise."""
        deadline = self.loop.time() + timeout
        while True:
            hall = self.hub.halls.get("alpha")
            members = set(hall.members) if hall else set()
            conns = len(self.hub.connections)
            tour = hall.tour if hall else None
            if conns == 2 and members == self.members and tour is None and not self.hub._tasks:
                return None
            if self.loop.time() > deadline:
                return f"connections={conns} members={sorted(members)} tour={tour} tasks={len(self.hub._tasks)}"
            await asyncio.sleep(0.005)

    async def run(self, script: Script, timeout: float = 15.0) -> RawClient:
        """Play one script and check what the client got against the model."""
        began = time.monotonic()
        client = await RawClient.connect(self.host, self.port)
        await client.play(script)
        try:
            await client.finish(timeout)
        except TimeoutError:
            raise AssertionError(f"left hanging: no close within {timeout} s ({script!r})") from None
        for kind, count in script.frames.items():
            SENT[kind] += count
        assert not client.violations, client.violations
        self.slowest = max(self.slowest, time.monotonic() - began)
        leftover = await self.settled()
        assert leftover is None, f"not cleaned up after {script!r}: {leftover}"
        if script.end == "abort":
            CLOSES["aborted by the client"] += 1
            return client
        code, reason = client.close or (None, "")
        if code is None and script.end == "eof":  # the server may close the TCP as it reads the end of it
            CLOSES["TCP closed after the client's EOF"] += 1
            return client
        CLOSES[code] += 1
        expected = script.code if script.code is not None else 1000
        assert code == expected, f"closed with {code} {reason!r}, expected {expected} ({script!r})"
        assert reason.startswith(script.reason), f"reason {reason!r}, expected {script.reason!r}... ({script!r})"
        if code != 1000:
            assert reason, f"closed with {code} and no reason ({script!r})"
        got, want = client.texts, script.replies
        if script.loose:
            got = got[: len(want)]
            assert client.pongs[: len(script.pongs)] == script.pongs
        else:
            assert client.pongs == script.pongs, f"pongs {client.pongs!r} != {script.pongs!r} ({script!r})"
        assert len(got) == len(want) and all(w.items() <= g.items() for w, g in zip(want, got)), (
            f"replies {got!r}, expected {want!r} ({script!r})"
        )
        return client


@pytest.fixture(scope="module")
def live():
    handler = Tracebacks()
    levels = {}
    for name in WATCHED:
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(min(logger.getEffectiveLevel(), logging.WARNING))
        logger.addHandler(handler)
    hub = LiveHub(handler)
    hub.call(hub.start())
    hub.started, hub.batches = time.monotonic(), 0
    try:
        yield hub
    finally:
        FIGURES["seconds"] = round(time.monotonic() - hub.started, 1)
        FIGURES["ticks kept"] = round(hub.ticks_kept(), 3)
        FIGURES["max backlog"] = hub.max_depth
        FIGURES["slowest connection s"] = round(hub.slowest, 2)
        counters = hub.hub.counters
        FIGURES["hub ticks"] = {
            "count": counters.ticks,
            "late": counters.late_ticks,
            "max ms": round(counters.max_tick_ms, 1),
            "protocol closes": counters.protocol,
            "slow consumers": counters.slow_consumer,
            "heartbeat aborts": counters.heartbeat,
        }
        FIGURES["warnings"] = dict(handler.warnings)
        FIGURES["requests that are not HTTP, answered 400 by aiohttp"] = handler.bad_http
        hub.call(hub.stop())
        hub.loop.call_soon_threadsafe(hub.loop.stop)
        hub.thread.join(5)
        for name in WATCHED:
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(levels[name])
        _print_report()


def _print_report() -> None:
    if not SENT:
        return
    print(
        f"\nhub fuzz: HALLS_FUZZ_EXAMPLES={EXAMPLES}, {sum(SENT.values())} frames in {sum(CLOSES.values())} connections"
    )
    print("  frames sent: " + ", ".join(f"{kind} x{count}" for kind, count in sorted(SENT.items())))
    print("  closes: " + ", ".join(f"{code} x{count}" for code, count in sorted(CLOSES.items(), key=str)))
    for name, value in FIGURES.items():
        print(f"  {name}: {value}")


@pytest.fixture
def healthy(live):
    """Per test: no traceback, the watcher kept its tick, backlogs stayed bounded, the hub is back to two members."""
    live.handler.records.clear()  # one test's tracebacks fail that test only
    live.violations.clear()
    started, batches = time.monotonic(), live.batches
    yield live
    elapsed = time.monotonic() - started
    kept = (live.batches - batches) / (elapsed * TICK_HZ)
    FIGURES.setdefault("ticks kept per test", {})[
        os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split(" ")[0]
    ] = round(kept, 3)
    assert not live.handler.records, live.handler.report()
    assert not live.violations, live.violations
    if elapsed > 2.0:  # a shorter window is too few ticks to judge
        assert kept >= TICKS_KEPT_PER_TEST, f"the watcher got {kept:.0%} of its batches over {elapsed:.1f} s"
    assert live.max_depth <= QUEUE_LIMIT
    assert live.call(live.settled()) is None


# --- the properties ---------------------------------------------------------------------


@fuzz_settings(1.0)
@given(script=scripts(bad=False))
def test_valid_sessions_get_the_documented_replies_and_stay_open(healthy, script):
    client = healthy.call(healthy.run(script))
    assert client.violations == []
    assert client.close is None or client.close[0] == 1000, client.close  # only ever a normal close
    assert _healthy_members_remain(healthy)


@fuzz_settings(2.0)
@given(script=scripts(bad=True))
def test_bad_frames_close_only_that_client_with_the_protocol_code_and_a_reason(healthy, script):
    client = healthy.call(healthy.run(script))
    assert client.violations == []
    if client.close is not None and client.close[0] not in (None, 1000):
        assert client.close[1], f"closed with {client.close[0]} and no reason"
    assert _healthy_members_remain(healthy)


@fuzz_settings(0.5)
@given(script=scripts(bad=True, flood=True, max_actions=3))
def test_floods_are_cut_off_by_the_rate_limits_and_ping_frames_answered(healthy, script):
    client = healthy.call(healthy.run(script))
    assert client.violations == []
    assert _healthy_members_remain(healthy)


def _healthy_members_remain(healthy) -> bool:
    """The walker and the watcher are still members of the hall, whatever the fuzz client did."""
    return healthy.members <= set(healthy.hub.halls["alpha"].members)


# --- the handshake ----------------------------------------------------------------------


@dataclass
class Handshake:
    method: str
    path: str
    headers: dict[str, str]
    tail: bytes
    end: str
    """`read`: read the answer; `abort`: drop the TCP right after writing; `abort-later`: a moment later."""

    @property
    def upgrade(self) -> bool:
        """Whether this is a WebSocket upgrade the server accepts (RFC 6455 section 4.2.1; the same framing)."""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            key = base64.b64decode(headers.get("sec-websocket-key", ""), validate=True)
        except ValueError:
            key = b""
        return (
            self.method == "GET"
            and headers.get("upgrade", "").lower() == "websocket"
            and "upgrade" in headers.get("connection", "").lower()
            and len(key) == 16
            and headers.get("sec-websocket-version") in ("13", "8", "7")  # aiohttp takes hybi drafts 7 and 8 too
        )


@st.composite
def handshakes(draw) -> Handshake:
    method = draw(st.sampled_from(["GET"] * 6 + ["POST", "HEAD", "PUT", "OPTIONS"]))
    path = draw(
        st.sampled_from(
            ["/ws/halls/alpha"] * 6
            + ["/ws/halls/beta", "/ws/halls/", "/ws/halls/alpha/x", "/ws/halls/%00", "/ws/halls/" + "a" * 300]
        )
    )
    headers = {"Host": "localhost"}
    choices = {
        "Upgrade": ["websocket", "websocket", "WebSocket", "h2c", None],
        "Connection": ["Upgrade", "Upgrade", "keep-alive, Upgrade", "close", None],
        "Sec-WebSocket-Key": [base64.b64encode(b"0123456789abcdef").decode()] * 3
        + ["", "not base64!", base64.b64encode(b"short").decode(), None],
        "Sec-WebSocket-Version": ["13", "13", "13", "8", "12", "x", None],
        "Sec-WebSocket-Extensions": [None, None, "permessage-deflate; client_max_window_bits", "x-unknown"],
        "Sec-WebSocket-Protocol": [None, None, "chat, superchat"],
    }
    for name, values in choices.items():
        value = draw(st.sampled_from(values))
        if value is not None:
            headers[name] = value
    tail = draw(
        st.sampled_from(
            [
                b"",
                b"",
                ws_frame(1, b'{"v":1,"type":"join","name":"hs"}'),
                b"\x81\xff",
                b"GET / HTTP/1.1\r\n\r\n",
                b"\x00" * 40,
            ]
        )
    )
    return Handshake(method, path, headers, tail, draw(st.sampled_from(["read", "read", "abort", "abort-later"])))


async def shake(live: LiveHub, handshake: Handshake) -> None:
    reader, writer = await asyncio.open_connection(live.host, live.port)
    head = "".join(f"{name}: {value}\r\n" for name, value in handshake.headers.items())
    writer.write(f"{handshake.method} {handshake.path} HTTP/1.1\r\n{head}\r\n".encode() + handshake.tail)
    try:
        if handshake.end == "abort":
            return
        if handshake.end == "abort-later":
            await asyncio.sleep(0.002)
            return
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = int(answer.split(b" ", 2)[1])
        SENT[f"handshake:{status}"] += 1
        if handshake.upgrade and handshake.path == "/ws/halls/alpha":
            assert status == 101, (status, handshake)
            writer.write(ws_frame(0x8, close_payload(1000)))
        else:
            assert status in (400, 404, 405), (status, handshake)
            if handshake.path != "/ws/halls/alpha" and handshake.method == "GET" and not handshake.tail:
                assert status == 404, (status, handshake)  # (bytes behind a declined upgrade may make it 400)
    finally:
        writer.transport.abort()


@fuzz_settings(0.5)
@given(handshake=handshakes())
def test_handshakes_of_every_shape_are_answered_without_a_server_error(healthy, handshake):
    healthy.call(shake(healthy, handshake))
    assert healthy.call(healthy.settled()) is None


# --- clients that stall, clients that stop reading ----------------------------------------


async def stalled(live: LiveHub, kind: str) -> tuple[str, tuple[int | None, str] | None, float]:
    client = await RawClient.connect(live.host, live.port)
    client.writing = True  # a stalled client answers no ping
    join = ws_frame(1, json.dumps({"v": 1, "type": "join", "name": kind}).encode())
    client.writer.write(
        {
            "silent": b"",
            "half-a-header": b"\x81",
            "joined-silent": join,
            "joined-half-a-frame": join + ws_frame(1, b"x" * 100)[:20],
            "joined-half-a-message": join + ws_frame(1, b'{"v":1,', fin=False),
        }[kind]
    )
    began = time.monotonic()
    await client.finish(10.0)
    return kind, client.close, time.monotonic() - began


def test_stalled_clients_are_closed_or_dropped_in_bounded_time(healthy):
    """Before joining: 1008 after the join timeout.  After: the heartbeat drops them (no close frame)."""

    async def scenario():
        kinds = ["silent", "half-a-header", "joined-silent", "joined-half-a-frame", "joined-half-a-message"]
        return await asyncio.gather(*(stalled(healthy, kind) for kind in kinds))

    heartbeats = healthy.hub.counters.heartbeat
    for kind, close, seconds in healthy.call(scenario()):
        SENT[f"stalled:{kind}"] += 1
        CLOSES[close[0] if close else "dropped without a close frame"] += 1
        if kind.startswith("joined"):
            assert close is None and seconds < 1.5 * HEARTBEAT + 1.0, (kind, close, seconds)
        else:
            assert close == (1008, "join: no join message in time") and seconds < JOIN_TIMEOUT + 1.5, (
                kind,
                close,
                seconds,
            )
    assert healthy.hub.counters.heartbeat - heartbeats == 3


async def slow_reader(live: LiveHub, flood: bool) -> tuple[int | None, str] | None:
    """A member that stops reading: it is dropped (1013 or the heartbeat), its backlog never over the limit."""
    client = await RawClient.connect(live.host, live.port, receive_buffer=4096)
    client.writing = True  # answers no ping either
    pose = {"v": 1, "type": "pose", "room": "lobby", "p": [3, 3, 0], "q": [0, 0, 0, 1]}
    client.writer.write(
        ws_frame(1, json.dumps({"v": 1, "type": "join", "name": "slow"}).encode())
        + ws_frame(1, json.dumps(pose).encode())
    )
    await asyncio.sleep(0.05)
    transport = cast(asyncio.Transport, client.writer.transport)
    transport.pause_reading()
    if flood:  # pongs the server cannot write
        client.writer.write(ws_frame(0x9, b"p" * 125) * 2000)
    me = transport.get_extra_info("sockname")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and any(
        conn.transport is not None and conn.transport.get_extra_info("peername") == me for conn in live.hub.connections
    ):
        live.hub.deliver_reload("alpha", [f"alpha/chunk-{i:04d}" for i in range(100)], None)
        await asyncio.sleep(0.05)
    transport.resume_reading()
    await client.finish(5.0)
    return client.close


def test_members_that_stop_reading_are_dropped_with_their_backlog_bounded(healthy):
    async def scenario():
        return await asyncio.gather(*(slow_reader(healthy, flood) for flood in (False, True, False, True)))

    drops = healthy.hub.counters.slow_consumer + healthy.hub.counters.heartbeat
    for close in healthy.call(scenario(), timeout=60):
        SENT["slow-reader"] += 1
        CLOSES[close[0] if close else "dropped without a close frame"] += 1
        assert close is None or close == (1013, "send queue full: slow consumer"), close
    assert healthy.hub.counters.slow_consumer + healthy.hub.counters.heartbeat - drops == 4
    assert healthy.max_depth <= QUEUE_LIMIT


# --- memory -------------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def test_memory_stays_bounded_over_many_fuzz_connections(healthy):
    """Scripts of every kind, then as many again measured: the traced memory must not grow with them."""
    drawn: list[Script] = []

    @fuzz_settings(2 * MEMORY_CONNECTIONS / EXAMPLES)
    @given(script=scripts(bad=True, max_actions=4))
    def collect(script):
        drawn.append(script)

    collect()
    half = len(drawn) // 2

    async def play(batch: list[Script]) -> None:
        for script in batch:
            await healthy.run(script)

    tracemalloc.start()
    try:
        healthy.call(play(drawn[:half]))
        gc.collect()
        before, rss = tracemalloc.get_traced_memory()[0], _rss()
        healthy.call(play(drawn[half:]))
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    FIGURES["memory"] = {
        "connections measured": len(drawn) - half,
        "traced growth bytes": growth,
        "rss growth bytes": _rss() - rss,
    }
    assert growth < MEMORY_BOUND, f"{growth} bytes more after {len(drawn) - half} fuzz connections"


# --- regressions: what the fuzzer found ---------------------------------------------------


def test_regression_frames_aiohttp_refuses_are_closed_with_a_reason(healthy):
    """aiohttp closed 1002, 1007 and 1009 (over 4x the limit) with an empty reason; now the reason says why."""
    join = ws_frame(1, json.dumps({"v": 1, "type": "join", "name": "r"}).encode())
    cases = [
        (ws_frame(1, b'{"v":1,"type":"ping","t":"\xff"}'), 1007, "invalid UTF-8 in a text frame or close reason"),
        (ws_frame(0x8, close_payload(1000, b"\xc3")), 1007, "invalid UTF-8 in a text frame or close reason"),
        (ws_frame(3, b""), 1002, "protocol error: unexpected opcode=3"),
        (ws_frame(1, b"{}", rsv=4), 1002, "protocol error: received frame with non-zero reserved bits"),
        (ws_frame(0x9, b"x" * 126), 1002, "protocol error: control frame payload cannot be larger than 125 bytes"),
        (ws_frame(0x8, close_payload(1005)), 1002, "protocol error: invalid close code: 1005"),
        (ws_frame(0, b"x"), 1002, "protocol error: continuation frame for non started message"),
        (ws_frame(1, b"x" * FRAME_LIMIT), 1009, "message of more than 16383 bytes exceeds the limit of 4096"),
    ]
    for data, code, reason in cases:
        script = Script(wire=[join, data], code=code, reason=reason, replies=[{"type": "welcome"}])
        script.frames["regression"] += 2
        client = healthy.call(healthy.run(script))
        assert client.close is not None and client.close[0] == code and client.close[1].startswith(reason), client.close


def test_regression_ping_frames_from_a_client_that_vanishes(healthy):
    """Pong to a ping still queued after the client dropped the TCP raised out of the handler (a traceback)."""

    async def vanish():
        client = await RawClient.connect(healthy.host, healthy.port)
        client.writer.write(
            ws_frame(1, json.dumps({"v": 1, "type": "join", "name": "gone"}).encode()) + ws_frame(0x9, b"p" * 100) * 500
        )
        client.writer.transport.abort()
        client.reading.cancel()

    for _ in range(30):
        healthy.call(vanish())
    assert healthy.call(healthy.settled()) is None
    assert not healthy.handler.records, healthy.handler.report()


def test_regression_head_request_is_not_upgraded(healthy):
    """A HEAD request with the upgrade headers got 101 and a WebSocket (aiohttp's `add_get` answers HEAD too)."""
    upgrade = {
        "Host": "x",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
    }
    healthy.call(shake(healthy, Handshake("HEAD", "/ws/halls/alpha", upgrade, b"", "read")))  # asserts 400
    assert healthy.call(healthy.settled()) is None


def test_regression_client_that_vanishes_during_the_handshake(healthy):
    """Writing the 101 answer to a client already gone raised out of the handler (a traceback)."""
    for end in ["abort"] * 20:
        upgrade = {
            "Host": "x",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
        }
        healthy.call(
            shake(
                healthy,
                Handshake("GET", "/ws/halls/alpha", upgrade, ws_frame(1, b'{"v":1,"type":"join","name":"x"}'), end),
            )
        )
    assert healthy.call(healthy.settled()) is None
    assert not healthy.handler.records, healthy.handler.report()


def test_the_watcher_kept_its_tick_over_the_whole_run(live):
    """Last in the module: over every test above, the watcher got at least `TICKS_KEPT` of its batches."""
    assert live.ticks_kept() >= TICKS_KEPT, f"{live.ticks_kept():.0%} over {time.monotonic() - live.started:.0f} s"
