"""The hall schema: what a trainer may write in `halls/*.yaml`.

Every field has a docstring; `hall_json_schema()` turns them into the JSON
Schema that editors use for completion and inline errors.

Conventions: lengths in metres, angles in degrees, positions are `[x, y]`
on the floor of the room with the origin at the room's centre, `+x` east and
`+y` north.  Ids are ASCII slugs, stable across edits.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from halls_contract.themes import DEFAULT_AMBIENT, DEFAULT_COLOURS, DEFAULT_SUN

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$")]
Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
Point2 = tuple[float, float]
Wall = Literal["north", "south", "east", "west"]


class Schema(BaseModel):
    """Base: unknown keys are errors; field docstrings become descriptions."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class Text(Schema):
    """Text in Chinese, with an optional English version."""

    zh: str = Field(min_length=1)
    """Chinese text (shown by default)."""
    en: str | None = None
    """English text (shown when the member switches language)."""

    @model_validator(mode="before")
    @classmethod
    def _plain_string_is_chinese(cls, value):
        return {"zh": value} if isinstance(value, str) else value


class Theme(Schema):
    """Colours and light of a hall."""

    primary: Colour = DEFAULT_COLOURS["primary"]
    """Main colour: wall banners, frames, accents."""
    secondary: Colour = DEFAULT_COLOURS["secondary"]
    """Second colour: trims and highlights."""
    wall: Colour = DEFAULT_COLOURS["wall"]
    """Wall colour."""
    floor: Colour = DEFAULT_COLOURS["floor"]
    """Floor colour."""
    ceiling: Colour = DEFAULT_COLOURS["ceiling"]
    """Ceiling colour."""
    ambient: float = Field(default=DEFAULT_AMBIENT, ge=0, le=1)
    """Ambient light strength, 0 to 1."""
    sun: float = Field(default=DEFAULT_SUN, ge=0, le=2)
    """Directional (sun) light strength, 0 to 2."""
    sky: Colour = DEFAULT_COLOURS["sky"]
    """Sky colour, seen in open-air rooms."""


class Placement(Schema):
    """Where an exhibit stands: free-standing at a point, or hung on a wall."""

    at: Point2 | None = None
    """Position `[x, y]` in metres from the room's centre (free-standing)."""
    facing: float = 0
    """Direction the exhibit's front faces, degrees: 0 north, 90 east, 180 south, 270 west."""
    wall: Wall | None = None
    """Hang on this wall instead of standing free; the exhibit then faces into the room."""
    along: float = 0
    """With `wall`: offset along the wall from its middle, metres (east/north positive)."""

    @model_validator(mode="after")
    def _one_way_to_place(self):
        if self.at is None and self.wall is None:
            raise ValueError("give either 'at: [x, y]' or 'wall: north|south|east|west'")
        if self.at is not None and self.wall is not None:
            raise ValueError("give 'at' or 'wall', not both")
        return self


class Panel(Placement):
    """A text board with a title, body text and an optional picture."""

    kind: Literal["panel"]
    """Exhibit type: `panel`, a text board."""
    id: Slug
    """Exhibit id, unique within the hall."""
    title: Text
    """Heading printed on the panel."""
    text: Text
    """Body text printed on the panel; must fit at the minimum readable size."""
    image: str | None = None
    """Picture shown above the text: a PNG or JPEG under `assets/`."""
    size: Point2 = (1.6, 1.1)
    """Panel width and height in metres."""


class Generator(Schema):
    """A named procedural shape with parameters."""

    name: Literal["terrain", "mountain", "chain-bridge", "figure", "flag", "grass", "rock", "plinth"]
    """Which generator builds the shape."""
    params: dict[str, float | int | str | bool] = {}
    """Parameters for the generator (see the authoring guide for each one's list)."""


class Model(Placement):
    """A 3D object: a mesh from `assets/` or a procedural generator."""

    kind: Literal["model"]
    """Exhibit type: `model`, a 3D object."""
    id: Slug
    """Exhibit id, unique within the hall."""
    title: Text
    """Label shown when a member looks at the model."""
    text: Text | None = None
    """Description shown when the model is opened."""
    asset: str | None = None
    """Mesh file under `assets/` (glTF/GLB, OBJ, STL or PLY)."""
    generator: Generator | None = None
    """Procedural shape, instead of `asset`."""
    scale: float = Field(default=1.0, gt=0, le=100)
    """Uniform scale factor."""
    colour: Colour | None = None
    """Colour for generated shapes and untextured meshes (defaults to the theme's primary)."""
    plinth: bool = True
    """Stand the model on a plinth."""
    footprint: Point2 = (1.0, 1.0)
    """Floor area the exhibit occupies, width and depth in metres (used for overlap checks)."""

    @model_validator(mode="after")
    def _asset_or_generator(self):
        if (self.asset is None) == (self.generator is None):
            raise ValueError("give exactly one of 'asset' or 'generator'")
        return self


class Figure(Schema):
    """A person in a diorama."""

    at: Point2
    """Position `[x, y]` relative to the diorama's centre."""
    pose: Literal["stand", "march", "salute", "point", "climb", "kneel", "fallen"] = "stand"
    """Body pose."""
    facing: float = 0
    """Direction the figure faces, degrees (0 north)."""
    colour: Colour = "#5b6b4a"
    """Clothing colour."""
    count: int = Field(default=1, ge=1, le=40)
    """Repeat the figure this many times in a column (for marching groups)."""
    spacing: float = Field(default=1.2, gt=0, le=10)
    """Distance between figures of a column, metres."""


class Prop(Schema):
    """A generated object placed in a diorama."""

    generator: Generator
    """The shape to generate."""
    at: Point2 = (0, 0)
    """Position `[x, y]` relative to the diorama's centre."""
    facing: float = 0
    """Rotation in degrees (0 north)."""
    colour: Colour | None = None
    """Colour of the prop."""


class Terrain(Schema):
    """The ground of a diorama."""

    kind: Literal["flat", "snow-mountain", "marsh", "cliff", "gorge", "hills"] = "flat"
    """Landscape type."""
    relief: float = Field(default=1.0, ge=0, le=30)
    """Height variation in metres."""
    seed: int = 1
    """Random seed: change it for a different but repeatable landscape."""
    colour: Colour = "#7a8a5a"
    """Ground colour (snow and water are added by the landscape type)."""


class Diorama(Schema):
    """An immersive re-enactment a member walks into at human scale."""

    kind: Literal["diorama"]
    """Exhibit type: `diorama`, a walk-in re-enactment."""
    id: Slug
    """Exhibit id, unique within the hall."""
    title: Text
    """Name of the scene, e.g. 飞夺泸定桥."""
    narration: Text
    """Narration text, shown and read when a member enters the area."""
    audio: str | None = None
    """Narration audio under `assets/` (OGG, MP3 or WAV)."""
    at: Point2 = (0, 0)
    """Centre of the diorama area in the room."""
    area: Point2 = (8.0, 8.0)
    """Width and depth of the area, metres."""
    terrain: Terrain = Terrain()
    """The ground."""
    figures: list[Figure] = []
    """People in the scene."""
    props: list[Prop] = []
    """Generated objects: bridges, flags, rocks, grass, mountains."""


class Media(Placement):
    """An image, video or audio piece."""

    kind: Literal["media"]
    """Exhibit type: `media`, an image, video or audio piece."""
    id: Slug
    """Exhibit id, unique within the hall."""
    title: Text
    """Caption."""
    asset: str
    """Image (PNG/JPEG), video (MP4/WebM) or audio (OGG/MP3/WAV) under `assets/`."""
    text: Text | None = None
    """Description shown with the media."""
    size: Point2 = (1.6, 0.9)
    """Frame width and height in metres."""


class Question(Schema):
    """One quiz question."""

    id: Slug
    """Question id, unique within its checkpoint."""
    type: Literal["single", "multiple", "true-false"]
    """single: one right option; multiple: several right options; true-false: a statement to judge."""
    prompt: Text
    """The question."""
    options: list[Text] = []
    """Answer options, lettered A, B, C ... in order (not for true-false)."""
    answer: str | list[str] | bool
    """The key, kept on the server: a letter (single), a list of letters (multiple) or true/false."""
    explanation: Text | None = None
    """Shown after the member answers."""


class Checkpoint(Schema):
    """A quiz station: entering its circle opens the questions."""

    kind: Literal["checkpoint"]
    """Exhibit type: `checkpoint`, a quiz station."""
    id: Slug
    """Checkpoint id, unique within the hall."""
    title: Text
    """Name of the quiz."""
    at: Point2
    """Centre of the trigger circle in the room."""
    radius: float = Field(default=1.5, gt=0.3, le=10)
    """Trigger radius in metres."""
    questions: list[Question]
    """The questions, asked in order."""
    pass_mark: float = Field(default=0.6, gt=0, le=1)
    """Fraction of questions that must be right to pass."""
    attempts: int = Field(default=3, ge=1, le=100)
    """How many attempts a member has."""
    cooldown: float = Field(default=0, ge=0, le=86400)
    """Seconds a member waits between attempts."""


Exhibit = Annotated[Panel | Model | Diorama | Media | Checkpoint, Field(discriminator="kind")]


class Doorway(Schema):
    """An opening in a wall to another room of the hall or to another hall."""

    to: str
    """Target: a room id of this hall, or `hall:<id>` for another hall."""
    wall: Wall
    """Wall the opening is in."""
    along: float = 0
    """Offset of the opening's centre from the middle of the wall, metres (east/north positive)."""
    width: float = Field(default=1.6, ge=0.9, le=8)
    """Opening width, metres."""


class Room(Schema):
    """A room of a hall: a walled room, or an open-air area for dioramas."""

    id: Slug
    """Room id, unique within the hall."""
    title: Text
    """Room name."""
    shape: Literal["room", "open"] = "room"
    """room: floor, walls and ceiling; open: ground and sky, edged by a low rail."""
    size: tuple[float, float, float] = (12.0, 10.0, 4.0)
    """Width (east-west), depth (north-south) and height, metres."""
    position: Point2 | None = None
    """Centre of the room in the hall, metres; by default just east of the previous room."""
    spawn: Point2 | None = None
    """Where members appear, if this is the hall's first room; default the room's centre."""
    spawn_facing: float = 0
    """Direction members face when they appear, compass degrees (0 north, 90 east)."""
    doorways: list[Doorway] = []
    """Openings to other rooms or halls; declare each shared opening once."""
    exhibits: list[Exhibit] = []
    """What stands in the room."""

    @field_validator("size")
    @classmethod
    def _sane_size(cls, size):
        width, depth, height = size
        if not (2 <= width <= 200 and 2 <= depth <= 200 and 2.2 <= height <= 40):
            raise ValueError("width and depth must be 2-200 m, height 2.2-40 m")
        return size


class Hall(Schema):
    """An exhibition hall: the top level of a `halls/<id>.yaml` file."""

    id: Slug
    """Hall id; must match the file name (`halls/<id>.yaml`)."""
    title: Text
    """Hall name, e.g. 红色屯兰."""
    intro: Text | None = None
    """Introduction shown on the catalog and when entering."""
    theme: Theme = Theme()
    """Colours and light."""
    order: int = 100
    """Position in the catalog (smaller first)."""
    rooms: list[Room] = Field(min_length=1)
    """The rooms; members start in the first one."""


def hall_json_schema() -> dict:
    """The JSON Schema of a hall file, for editors."""
    schema = Hall.model_json_schema()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = "Tunlan Halls hall file"
    return schema
