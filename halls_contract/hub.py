"""The hub's wire protocol (version 1): validated client messages, server messages, pose batches.

Connect to `GET /ws/halls/{hall_id}` (404 with a JSON error for an unknown
hall).  Every text frame, both ways, is a JSON object with `v` (1) and `type`;
unknown extra fields are ignored.  Pose batches are binary frames.

Client -> server (text frames only)
  join          {name, role?, key?, token?}            first message, within hub_join_timeout
  pose          {room, p:[x,y,z], q:[x,y,z,w], t?}         metres (z up), unit quaternion, t = sender ms (uint32)
  tour-start    {}                                          trainers only
  tour-goto     {exhibit}                                   leader only
  tour-narrate  {text}                                      leader only, <= 2000 characters
  tour-gather   {room, p}                                   leader only
  tour-end      {}                                          leader only
  follow        {on: bool}                                  follow the hall's tour, or stop
  ping          {t?}                                        answered with pong {t}

Server -> client, text
  welcome   {id, name, role, hall, tick_hz, neighbours, members:[{id,name,role}], tour, limits:
             {max_rate_hz, control_rate_hz, max_message_bytes}}
  joined    {members:[{id,name,role}]}      at most one per tick
  left      {ids:[...]}                     at most one per tick
  tour      {event: start|goto|narrate|gather|end|following|follower, leader, ...}
            start {leader:{id,name}} and end {reason} go to everyone in the hall; goto {exhibit, room, p},
            narrate {text} and gather {room, p} to followers; following {on, leader, last} answers
            follow (last = the latest goto/gather, for late followers); follower {member, on, followers}
            goes to the leader.
  reload    {hall, chunks:[...]}            a rebuild replaced these chunks
  build-error {hall, text}                  to trainers: a rebuild failed, the last good build is served
  error     {code, text, ref}               a refused request (forbidden, not-leader, tour-active, no-tour,
                                            unknown-exhibit, unknown-room); the connection stays open
  pong      {t}

Server -> client, binary: one pose batch per member per tick, only after the
member's first pose and only when it has someone in view: an 8-byte header
`<BBHI` (kind 1, version 1, count, tick number) and `count` 32-byte
little-endian records (`POSE_RECORD`, fields and offsets in `POSE_FIELDS` and
`POSE_OFFSETS`): id u32, t u32 (as the sender sent it, or the server's receive
time), x y z i32 centimetres, qx qy qz qw i16 (quaternion x 32767), room u16
(index into the manifest's `rooms`, 0xFFFF unknown), flags u16 (1 trainer, 2
tour leader).  A batch holds the nearest `neighbours` (K) others in the
member's room and the rooms one doorway away.

Close codes: 1002 a frame RFC 6455 forbids (reserved opcode or bits, a
control frame over 125 bytes or fragmented, a stray continuation, a bad close
code); 1003 binary frame from the client; 1007 a text frame or close reason
that is not UTF-8; 1008 malformed JSON, not an object, unknown type, wrong or
missing version, missing or out-of-range field (NaN, |coordinate| > 10 km,
non-unit quaternion, unknown room), join errors, rate limit; 1009 message over
hub_max_message_bytes; 1013 slow consumer (the server could not send for a
while and its bounded backlog overflowed); 1001 server shutting down; 1000
answers a client's own close.  Every close but 1000 has a reason that says
which field or frame and why, e.g. `pose.p[0]: input should be less than or
equal to 10000`.  A socket that answers no ping within the heartbeat is aborted
without a close frame, as is one that cannot finish the close handshake.

Only numpy users need numpy: `POSE_DTYPE` and `decode_pose_batch` import it
when first used; `pack_pose_batch` / `unpack_pose_batch` are plain Python.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
MAX_COORD = 10_000.0
"""Largest accepted |coordinate|, metres."""
MAX_NARRATION = 2000
"""Longest narration text, characters."""
POSE_RATE_HZ = 10.0
"""Poses a second a client sends while its member moves."""
POSE_KEEPALIVE_S = 2.0
"""Seconds after which an unchanged pose is sent again (others see the member stay)."""

# Close codes (RFC 6455 section 7.4.1), one per class of failure.
CLOSE_GOING_AWAY = 1001
"""The server is shutting down."""
CLOSE_PROTOCOL_ERROR = 1002
"""A frame RFC 6455 forbids (reserved opcode or bits, an oversized or fragmented control frame, ...)."""
CLOSE_UNSUPPORTED = 1003
"""A binary frame from a client: the client protocol is JSON text only."""
CLOSE_INVALID_TEXT = 1007
"""A text frame (or close reason) that is not UTF-8."""
CLOSE_POLICY = 1008
"""Malformed JSON, unknown type, missing or out-of-range field, rate limit, join order."""
CLOSE_TOO_BIG = 1009
"""A message over the size limit."""
CLOSE_TRY_AGAIN = 1013
"""Slow consumer: the connection's send queue overflowed."""

_REASON_BYTES = 123  # RFC 6455: the close reason must fit in a 125-byte control frame


class ProtocolError(Exception):
    """A client broke the protocol: close with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @property
    def reason_bytes(self) -> bytes:
        """The reason, UTF-8, cut to what a close frame can carry."""
        return self.reason.encode()[:_REASON_BYTES].decode(errors="ignore").encode()


# --- client -> server -------------------------------------------------------

Coord = Annotated[float, Field(ge=-MAX_COORD, le=MAX_COORD, allow_inf_nan=False)]
QuatPart = Annotated[float, Field(ge=-1.01, le=1.01, allow_inf_nan=False)]
Position = tuple[Coord, Coord, Coord]
Quaternion = tuple[QuatPart, QuatPart, QuatPart, QuatPart]
Slug = Annotated[str, Field(min_length=1, max_length=64)]
U32 = Annotated[int, Field(ge=0, le=0xFFFFFFFF)]


def _type_of(model: type[BaseModel]) -> str:
    """The `type` a message model's Literal allows."""
    return get_args(model.model_fields["type"].annotation)[0]


def _not_bool(value: Any) -> Any:
    """JSON true is not the number 1 (JSON Schema's `const: 1` refuses it; Python's `True == 1` would not)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a protocol version")
    return value


class _ClientMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, use_attribute_docstrings=True)

    v: Annotated[Literal[1], BeforeValidator(_not_bool)]
    """Protocol version."""


class Join(_ClientMessage):
    """First message on a connection: who is walking the hall."""

    type: Literal["join"]
    name: Annotated[
        str, Field(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$")
    ]
    """Display name shown to others (no control characters)."""
    role: Literal["member", "trainer"] = "member"
    """Requested role; `trainer` is granted only with the right `key`."""
    key: Annotated[str, Field(max_length=256)] | None = None
    """The configured trainer key (`trainer_key`), for trainers without an account."""
    token: Annotated[str, Field(max_length=512)] | None = None
    """Session token from `POST /api/session`: names the member and role (name and role are then ignored)."""


class Pose(_ClientMessage):
    """Where the member is and where the head points, up to `hub_max_rate_hz` times a second."""

    type: Literal["pose"]
    room: Slug
    """Room id from the hall manifest."""
    p: Position
    """Position, metres, hall coordinates (z up)."""
    q: Quaternion
    """Head orientation, unit quaternion (x, y, z, w)."""
    t: U32 | None = None
    """Sender's timestamp, ms (wraps at 2**32); passed through to receivers unchanged."""


class TourStart(_ClientMessage):
    """A trainer starts leading the hall's guided tour."""

    type: Literal["tour-start"]


class TourGoto(_ClientMessage):
    """Send followers to an exhibit."""

    type: Literal["tour-goto"]
    exhibit: Slug
    """Exhibit id from the hall manifest."""


class TourNarrate(_ClientMessage):
    """Narration text for followers."""

    type: Literal["tour-narrate"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_NARRATION)]


class TourGather(_ClientMessage):
    """Call followers to one spot."""

    type: Literal["tour-gather"]
    room: Slug
    p: Position


class TourEnd(_ClientMessage):
    """The leader ends the tour."""

    type: Literal["tour-end"]


class Follow(_ClientMessage):
    """Follow (or stop following) the hall's tour."""

    type: Literal["follow"]
    on: bool


class Ping(_ClientMessage):
    """Round-trip probe; answered with `pong` carrying the same `t`."""

    type: Literal["ping"]
    t: U32 | None = None


AnyClientMessage = Join | Pose | TourStart | TourGoto | TourNarrate | TourGather | TourEnd | Follow | Ping
ClientMessage = Annotated[AnyClientMessage, Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[AnyClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES: tuple[str, ...] = tuple(_type_of(model) for model in get_args(AnyClientMessage))
"""Message types a client sends."""
TOUR_TYPES = frozenset({"tour-start", "tour-goto", "tour-narrate", "tour-gather", "tour-end"})


def parse_client_message(text: str) -> AnyClientMessage:
    """Validate one text frame; raise `ProtocolError` (1008) with a readable reason."""
    try:
        return CLIENT_MESSAGE.validate_json(text)
    except ValidationError as exc:
        raise ProtocolError(CLOSE_POLICY, _explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    kind, loc = error["type"], error["loc"]
    if kind == "json_invalid":
        return f"malformed JSON: {error['ctx']['error']}"
    if kind == "union_tag_invalid":
        return f"unknown message type {error['ctx']['tag']!r}"
    if kind == "union_tag_not_found":
        return "missing field 'type'"
    if not loc:
        return "message must be a JSON object"
    message_type, *path = loc
    if path == ["v"]:
        if kind == "missing":  # the input is then the whole message: not worth repeating
            return f"missing field 'v' (the protocol version): this server speaks v={PROTOCOL_VERSION}"
        return f"unsupported protocol version {error.get('input')!r}: this server speaks v={PROTOCOL_VERSION}"
    where = str(message_type) + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    text = error["msg"]
    return f"{where}: {text[:1].lower()}{text[1:]}"


def check_quaternion(q: tuple[float, float, float, float], message_type: str = "pose") -> tuple[float, ...]:
    """The quaternion normalised; a `ProtocolError` when it is far from unit length."""
    norm = math.sqrt(sum(c * c for c in q))
    if not 0.9 <= norm <= 1.1:
        raise ProtocolError(CLOSE_POLICY, f"{message_type}.q: not a unit quaternion (length {norm:.3g})")
    return tuple(c / norm for c in q)


# --- server -> client: JSON --------------------------------------------------


def encode(type_: str, **fields: Any) -> str:
    """One server message as compact JSON text."""
    return json.dumps({"v": PROTOCOL_VERSION, "type": type_, **fields}, separators=(",", ":"), ensure_ascii=False)


class _ServerMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    v: Literal[1]


class MemberInfo(BaseModel):
    """Someone in the hall, as others are told."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    id: int
    name: str
    role: Literal["member", "trainer"]


class Leader(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    id: int
    name: str


class TourState(BaseModel):
    """The hall's running tour: who leads it and its latest goto/gather cue."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    leader: Leader
    last: dict | None = None


class Limits(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    max_rate_hz: float
    control_rate_hz: float
    max_message_bytes: int


class Welcome(_ServerMessage):
    """Answer to `join`: the member's id and role, the hall's members and tour, the hub's limits."""

    type: Literal["welcome"]
    id: int
    name: str
    role: Literal["member", "trainer"]
    hall: str
    tick_hz: float
    """Pose batches a second (0: poses are forwarded as they arrive)."""
    neighbours: int | None
    """Most others in one pose batch."""
    members: tuple[MemberInfo, ...]
    tour: TourState | None
    limits: Limits | None = None


class Joined(_ServerMessage):
    type: Literal["joined"]
    members: tuple[MemberInfo, ...]


class Left(_ServerMessage):
    type: Literal["left"]
    ids: tuple[int, ...]


TOUR_EVENTS = ("start", "goto", "narrate", "gather", "end", "following", "follower")


class Tour(_ServerMessage):
    """A tour cue; which fields it has depends on `event` (see the module docstring)."""

    type: Literal["tour"]
    event: Literal["start", "goto", "narrate", "gather", "end", "following", "follower"]
    leader: Leader | int | None = None
    """{id, name} in start and following, else the leader's id."""
    last: dict | None = None
    exhibit: str | None = None
    room: str | None = None
    p: tuple[float, float, float] | None = None
    text: str | None = None
    reason: str | None = None
    on: bool | None = None
    member: MemberInfo | None = None
    followers: int | None = None


class Reload(_ServerMessage):
    """A rebuild replaced these chunks of the hall: fetch its manifest again."""

    type: Literal["reload"]
    hall: str | None
    chunks: tuple[str, ...]


class BuildError(_ServerMessage):
    """To trainers: a rebuild failed; the last good build is still served."""

    type: Literal["build-error"]
    hall: str | None
    text: str


class Error(_ServerMessage):
    """A refused request; the connection stays open."""

    type: Literal["error"]
    code: Literal["forbidden", "not-leader", "tour-active", "no-tour", "unknown-exhibit", "unknown-room"]
    text: str
    ref: str | None = None
    """The type of the refused message."""


class Pong(_ServerMessage):
    type: Literal["pong"]
    t: int | None = None


AnyServerMessage = Welcome | Joined | Left | Tour | Reload | BuildError | Error | Pong
ServerMessage = Annotated[AnyServerMessage, Field(discriminator="type")]
SERVER_MESSAGE: TypeAdapter[AnyServerMessage] = TypeAdapter(ServerMessage)
SERVER_TYPES: tuple[str, ...] = tuple(_type_of(model) for model in get_args(AnyServerMessage))
"""Message types the server sends as text."""


def parse_server_message(data: str | bytes | dict) -> AnyServerMessage:
    """A server text message typed (`ValidationError` when it does not follow the protocol)."""
    if isinstance(data, dict):
        return SERVER_MESSAGE.validate_python(data)
    return SERVER_MESSAGE.validate_json(data)


# --- server -> client: binary pose batches -----------------------------------

BATCH_POSES = 1
"""First byte of a binary frame holding a pose batch."""
BATCH_HEADER = struct.Struct("<BBHI")
"""kind (1), version (1), count, tick number: 8 bytes, then `count` records."""
BATCH_COUNT_OFFSET = 2
BATCH_TICK_OFFSET = 4
POSE_FIELDS = (
    ("id", "I"),  # member id
    ("t", "I"),  # sender's timestamp, ms (as sent in `pose.t`)
    ("x", "i"),  # position, centimetres
    ("y", "i"),
    ("z", "i"),
    ("qx", "h"),  # orientation, unit quaternion * 32767
    ("qy", "h"),
    ("qz", "h"),
    ("qw", "h"),
    ("room", "H"),  # index into the manifest's `rooms`; 0xFFFF unknown
    ("flags", "H"),  # FLAG_TRAINER | FLAG_LEADER
)
"""A pose record's fields in order, with their `struct` codes (little-endian, no padding)."""
POSE_RECORD = struct.Struct("<" + "".join(code for _, code in POSE_FIELDS))
"""One member's pose in a batch: 32 bytes."""
POSE_OFFSETS = {
    name: struct.calcsize("<" + "".join(code for _, code in POSE_FIELDS[:i])) for i, (name, _) in enumerate(POSE_FIELDS)
}
"""Byte offset of each field within a record."""
POSE_NUMPY_FIELDS = [(name, "<" + {"I": "u4", "i": "i4", "h": "i2", "H": "u2"}[code]) for name, code in POSE_FIELDS]
"""The record as a numpy structured dtype description (`numpy.dtype(POSE_NUMPY_FIELDS)` is `POSE_DTYPE`)."""
POSITION_SCALE = 100
"""Record units per metre (centimetres)."""
QUATERNION_SCALE = 32767
"""Record units per quaternion unit."""
NO_ROOM = 0xFFFF
FLAG_TRAINER = 1
FLAG_LEADER = 2
assert POSE_RECORD.size == 32 and BATCH_HEADER.size == 8


class PoseRecord(NamedTuple):
    """One decoded record, in record units (see `POSE_FIELDS`)."""

    id: int
    t: int
    x: int
    y: int
    z: int
    qx: int
    qy: int
    qz: int
    qw: int
    room: int
    flags: int

    @property
    def position(self) -> tuple[float, float, float]:
        """Metres."""
        return (self.x / POSITION_SCALE, self.y / POSITION_SCALE, self.z / POSITION_SCALE)

    @property
    def quaternion(self) -> tuple[float, float, float, float]:
        return (
            self.qx / QUATERNION_SCALE,
            self.qy / QUATERNION_SCALE,
            self.qz / QUATERNION_SCALE,
            self.qw / QUATERNION_SCALE,
        )


def pose_record(
    member_id: int, t: int, p: tuple[float, float, float], q: tuple[float, ...], room: int, flags: int
) -> tuple:
    """A pose quantised into a record (centimetres, int16 quaternion), as a tuple in `POSE_FIELDS` order."""
    return (
        member_id,
        t,
        round(p[0] * POSITION_SCALE),
        round(p[1] * POSITION_SCALE),
        round(p[2] * POSITION_SCALE),
        round(q[0] * QUATERNION_SCALE),
        round(q[1] * QUATERNION_SCALE),
        round(q[2] * QUATERNION_SCALE),
        round(q[3] * QUATERNION_SCALE),
        room,
        flags,
    )


def encode_batch_header(count: int, tick: int) -> bytes:
    return BATCH_HEADER.pack(BATCH_POSES, PROTOCOL_VERSION, count, tick & 0xFFFFFFFF)


def _batch_header(data: bytes) -> tuple[int, int]:
    kind, version, count, tick = BATCH_HEADER.unpack_from(data)
    if kind != BATCH_POSES or version != PROTOCOL_VERSION:
        raise ValueError(f"not a v{PROTOCOL_VERSION} pose batch (kind {kind}, version {version})")
    return count, tick


def pack_pose_batch(tick: int, records) -> bytes:
    """A binary pose-batch frame of `records` (tuples in `POSE_FIELDS` order, e.g. from `pose_record`)."""
    records = list(records)
    return encode_batch_header(len(records), tick) + b"".join(POSE_RECORD.pack(*r) for r in records)


def unpack_pose_batch(data: bytes) -> tuple[int, list[PoseRecord]]:
    """(tick, records) from a binary pose-batch frame, without numpy."""
    count, tick = _batch_header(data)
    return tick, [
        PoseRecord._make(POSE_RECORD.unpack_from(data, BATCH_HEADER.size + i * POSE_RECORD.size)) for i in range(count)
    ]


def decode_pose_batch(data: bytes):
    """(tick, records) from a binary pose-batch frame, the records as a `POSE_DTYPE` numpy array."""
    import numpy as np

    count, tick = _batch_header(data)
    return tick, np.frombuffer(data, __getattr__("POSE_DTYPE"), count, BATCH_HEADER.size)


_lazy: dict[str, Any] = {}


def __getattr__(name: str):
    """`POSE_DTYPE`: the record as a numpy dtype, made (and numpy imported) on first use."""
    if name == "POSE_DTYPE":
        if name not in _lazy:
            import numpy as np

            _lazy[name] = np.dtype(POSE_NUMPY_FIELDS)
            assert _lazy[name].itemsize == POSE_RECORD.size
        return _lazy[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
