"""A hall's manifest (`halls/<id>/manifest.json`) and its answer keys (`private/answers/<id>.json`).

The compiler writes manifests with `dump_manifest`; the server, the clients,
tests and benches read them with `parse_manifest`, which checks the format
and version first and says what to do about a mismatch.  Field order is the
order in the file.  Coordinates: metres, Z up, +X east, +Y north.

The server adds to what it serves (`GET /api/halls/{id}?variant=V`):
`variant`, a `model` per chunk (the object a client of that variant fetches)
and a `url` per exhibit asset.  They are optional here and left out of the
dump when unset.  Answer keys (`AnswerKeys`) stay on the server: a
`Checkpoint` has no field for them, so they cannot be dumped into a manifest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

from halls_contract.themes import DEFAULT_AMBIENT, DEFAULT_COLOURS, DEFAULT_SUN

MANIFEST_FORMAT: Final = "tunlan-hall-manifest"
MANIFEST_VERSION = 1
"""The version the compiler writes."""
SUPPORTED_VERSIONS = (1,)
"""Versions this contract reads."""
VARIANTS = ("meshopt", "plain", "bam")
"""Manifest variants the server offers, one per kind of client."""


class ContractError(ValueError):
    """A document does not follow the contract; the message says where and what to do."""


class ManifestError(ContractError):
    """A manifest cannot be used: wrong format, unsupported version, or malformed."""


class Record(BaseModel):
    """Base of every document model: immutable, unknown keys ignored, optional additions left out when unset."""

    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)
    _omit_when_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_unset_additions(self, handler):
        data = handler(self)
        for key in self._omit_when_none:
            if data.get(key) is None:
                data.pop(key, None)
        return data


Finite = Annotated[float, Field(allow_inf_nan=False)]
Vec3 = tuple[Finite, Finite, Finite]
Number = Annotated[int | float, Field(allow_inf_nan=False)]
"""A number kept as written (an int stays an int)."""
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ObjectName = Annotated[str, Field(pattern=r"^[0-9a-f]{64}(\.[a-z0-9]+)+$")]


class Text(Record):
    """Text in Chinese, with an optional English version."""

    zh: str
    en: str | None = None


def text_of(value: Text | Mapping[str, str | None] | str | None, language: str = "zh") -> str:
    """The text in `language`, else Chinese, else English, else ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Text):
        value = {"zh": value.zh, "en": value.en}
    return value.get(language) or value.get("zh") or value.get("en") or ""


class ObjectRef(Record):
    """An immutable object in `objects/`, named by the SHA-256 of its bytes."""

    name: ObjectName
    """File name: the hash and a suffix (`.glb`, `.bam.pz`, `.png` ...)."""
    sha256: Sha256
    size: int = Field(ge=0)
    """Bytes."""


class Bounds(Record):
    """Axis-aligned box in hall coordinates."""

    min: Vec3
    max: Vec3

    def contains(self, point, margin: float = 0.0) -> bool:
        """Whether `point` lies inside on the floor plane (x, y), `margin` metres of slack."""
        return (
            self.min[0] - margin <= point[0] <= self.max[0] + margin
            and self.min[1] - margin <= point[1] <= self.max[1] + margin
        )

    @property
    def centre(self) -> tuple[float, float, float]:
        (x0, y0, z0), (x1, y1, z1) = self.min, self.max
        return ((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2)


class Theme(Record):
    """Colours and light of a hall (`#rrggbb` colours; light strengths as in the hall schema)."""

    primary: str = DEFAULT_COLOURS["primary"]
    secondary: str = DEFAULT_COLOURS["secondary"]
    wall: str = DEFAULT_COLOURS["wall"]
    floor: str = DEFAULT_COLOURS["floor"]
    ceiling: str = DEFAULT_COLOURS["ceiling"]
    ambient: Finite = DEFAULT_AMBIENT
    sun: Finite = DEFAULT_SUN
    sky: str = DEFAULT_COLOURS["sky"]


class Coordinates(Record):
    """The coordinate convention, stated in every manifest."""

    up: Literal["z"] = "z"
    units: Literal["m"] = "m"
    north: Literal["+y"] = "+y"
    east: Literal["+x"] = "+x"


class Spawn(Record):
    """Where members appear."""

    room: str
    position: Vec3
    heading: Finite
    """Degrees, counter-clockwise from north seen from above (Panda3D's H)."""


class Room(Record):
    id: str
    title: Text
    shape: Literal["room", "open"]
    """room: walls and ceiling; open: ground and sky, edged by a low rail."""
    bounds: Bounds


class Doorway(Record):
    """An opening members walk through: to another room (`to_room`) or a portal to another hall (`to_hall`)."""

    room: str
    to_room: str | None
    to_hall: str | None
    position: Vec3
    width: Finite
    heading: Finite
    """Degrees; faces into `room` (leaving means moving against it)."""


class ChunkObjects(Record):
    """One chunk's scene in each form: Panda3D `.bam.pz`, glTF, and glTF with meshopt compression (optional)."""

    _omit_when_none = ("glb_meshopt",)
    bam: ObjectRef
    glb: ObjectRef
    glb_meshopt: ObjectRef | None = None


class ChunkModel(ObjectRef):
    """Served manifests only: the object a client of the manifest's variant fetches for a chunk."""

    kind: Literal["glb", "glb_meshopt", "bam"]
    url: str


class Chunk(Record):
    """One streamable piece of a hall: a room and everything in it."""

    _omit_when_none = ("model",)
    id: str
    room: str
    bounds: Bounds
    triangles: int = Field(ge=0)
    draw_calls: int = Field(ge=0)
    nodes: tuple[str, ...]
    """Scene node names (`<room>/<what>/<id>`)."""
    objects: ChunkObjects
    model: ChunkModel | None = None
    """Served manifests only (see `ChunkModel`)."""


class Asset(Record):
    """A file an exhibit shows or plays (image, audio, video): its source path and its object."""

    _omit_when_none = ("url",)
    path: str
    """Under `assets/` in the project."""
    name: ObjectName
    sha256: Sha256
    size: int = Field(ge=0)
    url: str | None = None
    """Served manifests only: where to fetch the object."""


class Exhibit(Record):
    """What a client shows when an exhibit is opened."""

    id: str
    room: str
    kind: str
    """`panel`, `model`, `diorama` or `media`."""
    node: str
    """Scene node name (`<room>/exhibit/<id>`); compare with node names, never search by path."""
    title: Text
    text: Text | None
    position: Vec3
    radius: Finite
    """Metres from `position` within which the exhibit opens."""
    assets: tuple[Asset, ...]


class Option(Record):
    id: str
    """Letter: A, B, C ..."""
    text: Text


class Question(Record):
    """A quiz question as members see it (no key)."""

    id: str
    type: Literal["single", "multiple", "true-false"]
    prompt: Text
    options: tuple[Option, ...]


class Checkpoint(Record):
    """A quiz station as members see it: questions without answer keys."""

    id: str
    room: str
    title: Text
    position: Vec3
    radius: Finite
    """Trigger radius, metres."""
    pass_mark: Finite
    """Fraction of questions that must be right."""
    attempts: int
    cooldown: Number
    """Seconds between attempts."""
    questions: tuple[Question, ...]


class Manifest(Record):
    """One hall: chunks in streaming order (spawn room first), rooms, doorways, exhibits, checkpoints."""

    _omit_when_none = ("thumbnail", "variant")
    format: Literal["tunlan-hall-manifest"] = MANIFEST_FORMAT
    version: int = MANIFEST_VERSION
    id: str
    title: Text
    intro: Text | None
    order: int
    """Position in the catalog (smaller first)."""
    theme: Theme
    coordinates: Coordinates = Coordinates()
    spawn: Spawn
    rooms: tuple[Room, ...]
    doorways: tuple[Doorway, ...]
    chunks: tuple[Chunk, ...]
    exhibits: tuple[Exhibit, ...]
    checkpoints: tuple[Checkpoint, ...]
    thumbnail: ObjectRef | None = None
    """The catalog picture, when one was rendered."""
    variant: Literal["meshopt", "plain", "bam"] | None = None
    """Served manifests only: which kind of client `chunks[].model` is for."""


# --- answer keys (server only) ------------------------------------------------


class KeyedQuestion(Question):
    """A question with its key and explanation."""

    answer: str | tuple[str, ...] | bool
    """A letter (single), letters (multiple) or true/false."""
    explanation: Text | None


class KeyedCheckpoint(Checkpoint):
    """A checkpoint with its answer keys."""

    questions: tuple[KeyedQuestion, ...]

    def public(self) -> Checkpoint:
        """The checkpoint as members see it: keys and explanations left out."""
        return Checkpoint.model_validate(self.model_dump())


class AnswerKeys(Record):
    """`private/answers/<hall>.json`: every checkpoint of a hall with its keys; never served."""

    hall: str
    checkpoints: tuple[KeyedCheckpoint, ...]


# --- reading and writing ------------------------------------------------------


def check_manifest_version(data: Any) -> None:
    """Raise `ManifestError` unless `data` is a manifest of a version this contract reads."""
    if not isinstance(data, Mapping):
        raise ManifestError("manifest: not a JSON object")
    if data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"manifest: format {data.get('format')!r} is not {MANIFEST_FORMAT!r}")
    version = data.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise ManifestError(
            f"manifest: version {version!r} is not supported by this client (it reads version "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}); update the client"
        )


def parse_manifest(data: Mapping | bytes | str) -> Manifest:
    """A manifest (JSON text or decoded) checked and typed; `ManifestError` says what is wrong."""
    value = decode_json(data, ManifestError, "manifest")
    check_manifest_version(value)
    try:
        return Manifest.model_validate(value)
    except ValidationError as exc:
        raise ManifestError(f"manifest of hall {value.get('id', '?')!r}: malformed ({explain(exc)})") from None


def dump_manifest(manifest: Manifest) -> dict:
    """The manifest as JSON values, keys in file order."""
    return manifest.model_dump(mode="json")


def parse_answer_keys(data: Mapping | bytes | str) -> AnswerKeys:
    """Answer keys (JSON text or decoded) checked and typed; `ContractError` says what is wrong."""
    value = decode_json(data, ContractError, "answer keys")
    try:
        return AnswerKeys.model_validate(value)
    except ValidationError as exc:
        raise ContractError(f"answer keys: malformed ({explain(exc)})") from None


def dump_answer_keys(keys: AnswerKeys) -> dict:
    """The answer keys as JSON values, keys in file order."""
    return keys.model_dump(mode="json")


def explain(exc: ValidationError) -> str:
    """The first validation error as `where: what`."""
    error = exc.errors(include_url=False)[0]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    return f"{where or 'document'}: {error['msg']}"


def decode_json(data: Any, error: type[ContractError], what: str) -> Any:
    """JSON text decoded (decoded data as it is); `error` when it is not JSON."""
    if isinstance(data, (bytes, bytearray, str)):
        try:
            return json.loads(data)
        except ValueError as exc:
            raise error(f"{what}: not JSON ({exc})") from None
    return data
