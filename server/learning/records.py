"""xAPI 1.0.3 statements of the learning record, as small pydantic models.

    answered   per question   object cmi.interaction (choice / true-false)
    passed     per checkpoint object assessment, score, success, duration
    failed     per checkpoint
    completed  per hall       when the member has passed all its checkpoints
    experienced per diorama   time spent in it (result.duration)

The actor is an account (homePage = the server's base URL, name = member
id).  Context: the visit's registration, parent = the checkpoint (answered)
or the hall, grouping = the hall (answered) and the training base (id and
type only: names travel with the statements whose object they are),
platform and language zh-CN.  Statement ids are UUID5 of the registration, hall,
checkpoint or diorama, attempt or sequence number, verb and question, so the
same event always has the same id and a resend never duplicates it.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from server.config import ServerConfig
from server.learning.quiz import Checkpoint, Grade, Question

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/tunlan-halls/xapi/statements")
"""UUID5 namespace of statement ids (never change it: ids must stay stable)."""
ADL = "http://adlnet.gov/expapi"
LANGUAGE = "zh-CN"
BASE_NAME = ServerConfig.training_base_name
"""Default name of the training base (the default of config `training_base_name`)."""
_NAMESPACE_BYTES = NAMESPACE.bytes

VERBS = {
    "answered": ("回答", f"{ADL}/verbs/answered"),
    "passed": ("通过", f"{ADL}/verbs/passed"),
    "failed": ("未通过", f"{ADL}/verbs/failed"),
    "completed": ("完成", f"{ADL}/verbs/completed"),
    "experienced": ("体验", f"{ADL}/verbs/experienced"),
}
ACTIVITY_TYPES = {
    "base": f"{ADL}/activities/course",
    "hall": f"{ADL}/activities/module",
    "checkpoint": f"{ADL}/activities/assessment",
    "question": f"{ADL}/activities/cmi.interaction",
    "diorama": f"{ADL}/activities/simulation",
}

LanguageMap = dict[str, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Account(_Model):
    homePage: str
    name: str


class Agent(_Model):
    objectType: Literal["Agent"] = "Agent"
    name: str | None = None
    account: Account


class Verb(_Model):
    id: str
    display: LanguageMap


class InteractionComponent(_Model):
    id: str
    description: LanguageMap


class ActivityDefinition(_Model):
    name: LanguageMap | None = None
    description: LanguageMap | None = None
    type: str
    interactionType: Literal["choice", "true-false"] | None = None
    correctResponsesPattern: list[str] | None = None
    choices: list[InteractionComponent] | None = None


class Activity(_Model):
    objectType: Literal["Activity"] = "Activity"
    id: str
    definition: ActivityDefinition | None = None


class Score(_Model):
    scaled: float = Field(ge=-1, le=1)
    raw: float
    min: float
    max: float


class Result(_Model):
    score: Score | None = None
    success: bool | None = None
    completion: bool | None = None
    response: str | None = None
    duration: str | None = None


class ContextActivities(_Model):
    parent: list[Activity] | None = None
    grouping: list[Activity] | None = None


class Context(_Model):
    registration: str
    contextActivities: ContextActivities
    platform: str
    language: str = LANGUAGE
    extensions: dict[str, int | str] | None = None


class Statement(_Model):
    id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    actor: Agent
    verb: Verb
    object: Activity
    result: Result | None = None
    context: Context
    timestamp: str

    def to_json(self) -> str:
        """Compact JSON, None fields left out."""
        return self.model_dump_json(exclude_none=True)


@dataclass(frozen=True)
class Learner:
    id: str
    name: str | None = None


@dataclass(frozen=True)
class CheckpointActivities:
    """The activities of one checkpoint's statements, made once per checkpoint (they never change)."""

    base: Activity
    hall: Activity
    checkpoint: Activity
    questions: Mapping[str, Activity]

    @property
    def fragments(self) -> dict[int, str]:
        """JSON of these activities and of the verbs, by object id (valid while this object lives)."""
        cached = self.__dict__.get("_fragments")
        if cached is None:
            parts = [self.base, self.hall, self.checkpoint, *self.references, *self.questions.values(), *VERB.values()]
            cached = {id(part): part.model_dump_json(exclude_none=True) for part in parts}
            object.__setattr__(self, "_fragments", cached)
        return cached

    @property
    def references(self) -> tuple[Activity, Activity, Activity]:
        """Base, hall and checkpoint as context activities: id and type (their names travel as objects)."""
        cached = self.__dict__.get("_references")
        if cached is None:
            cached = tuple(reference(a) for a in (self.base, self.hall, self.checkpoint))
            object.__setattr__(self, "_references", cached)
        return cached


@dataclass(frozen=True)
class Vocabulary:
    """The server's activity IRIs and names: everything a statement needs besides the event."""

    base_url: str
    """Public URL of the server; actor homePage and the root of activity IRIs."""
    base_name: str = BASE_NAME
    """Name of the training base (the grouping activity)."""
    _cache: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary, compare=False, repr=False)

    def activities(self, checkpoint: Checkpoint, hall_title: Mapping | None = None) -> CheckpointActivities:
        """The checkpoint's activities, cached while the checkpoint (one build's keys) is alive."""
        cached = self._cache.get(checkpoint)
        if cached is None:
            cached = self._cache[checkpoint] = CheckpointActivities(
                base=self.training_base(),
                hall=self.hall(checkpoint.hall, hall_title),
                checkpoint=self.checkpoint(checkpoint),
                questions={q.id: self.question(checkpoint, q) for q in checkpoint.questions},
            )
        return cached

    def actor(self, learner: Learner) -> Agent:
        return Agent(name=learner.name or None, account=Account(homePage=self.base_url, name=learner.id))

    def training_base(self) -> Activity:
        return Activity(
            id=f"{self.base_url}/",
            definition=ActivityDefinition(name={LANGUAGE: self.base_name}, type=ACTIVITY_TYPES["base"]),
        )

    def hall(self, hall_id: str, title: Mapping | None = None) -> Activity:
        return Activity(
            id=f"{self.base_url}/halls/{hall_id}",
            definition=ActivityDefinition(name=language_map(title) or {LANGUAGE: hall_id}, type=ACTIVITY_TYPES["hall"]),
        )

    def checkpoint(self, checkpoint: Checkpoint) -> Activity:
        return Activity(
            id=self._checkpoint_iri(checkpoint),
            definition=ActivityDefinition(
                name=language_map(checkpoint.title) or {LANGUAGE: checkpoint.id}, type=ACTIVITY_TYPES["checkpoint"]
            ),
        )

    def question(self, checkpoint: Checkpoint, question: Question) -> Activity:
        definition = ActivityDefinition(
            name=language_map(question.prompt) or {LANGUAGE: question.id},
            type=ACTIVITY_TYPES["question"],
            interactionType="true-false" if question.type == "true-false" else "choice",
            correctResponsesPattern=[response_text(question.key)],
            choices=None
            if question.type == "true-false"
            else [
                InteractionComponent(id=option_id, description=language_map(text) or {LANGUAGE: option_id})
                for option_id, text in question.options
            ],
        )
        return Activity(id=f"{self._checkpoint_iri(checkpoint)}/questions/{question.id}", definition=definition)

    def diorama(self, hall_id: str, diorama_id: str, title: Mapping | None = None) -> Activity:
        return Activity(
            id=f"{self.base_url}/halls/{hall_id}/dioramas/{diorama_id}",
            definition=ActivityDefinition(
                name=language_map(title) or {LANGUAGE: diorama_id}, type=ACTIVITY_TYPES["diorama"]
            ),
        )

    def extension(self, name: str) -> str:
        return f"{self.base_url}/extensions/{name}"

    def _checkpoint_iri(self, checkpoint: Checkpoint) -> str:
        return f"{self.base_url}/halls/{checkpoint.hall}/checkpoints/{checkpoint.id}"


def attempt_statements(
    vocabulary: Vocabulary,
    learner: Learner,
    checkpoint: Checkpoint,
    grade: Grade,
    *,
    registration: str,
    attempt: int,
    platform: str,
    timestamp: float,
    duration: float,
    hall_title: Mapping | None = None,
    hall_completed: bool = False,
) -> list[Statement]:
    """`answered` per answered question, `passed`/`failed` for the checkpoint, `completed` if the hall now is."""
    actor = vocabulary.actor(learner)
    stamp = iso_timestamp(timestamp)
    activities = vocabulary.activities(checkpoint, hall_title)
    base, hall, target = activities.references
    attempt_extension: dict[str, int | str] = {vocabulary.extension("attempt"): attempt}
    where = (registration, checkpoint.hall, checkpoint.id, str(attempt))
    statements = []
    in_checkpoint = Context(
        registration=registration,
        platform=platform,
        extensions=attempt_extension,
        contextActivities=ContextActivities(parent=[target], grouping=[hall, base]),
    )
    for result in grade.results:
        if result.response is None:
            continue
        statements.append(
            Statement(
                id=statement_id(*where, "answered", result.question.id),
                actor=actor,
                verb=VERB["answered"],
                object=activities.questions[result.question.id],
                result=Result(response=response_text(result.response), success=result.correct),
                context=in_checkpoint,
                timestamp=stamp,
            )
        )
    outcome = "passed" if grade.passed else "failed"
    statements.append(
        Statement(
            id=statement_id(*where, outcome),
            actor=actor,
            verb=VERB[outcome],
            object=activities.checkpoint,
            result=Result(
                score=Score(scaled=grade.scaled, raw=grade.raw, min=0, max=grade.max),
                success=grade.passed,
                completion=True,
                duration=iso_duration(duration),
            ),
            context=Context(
                registration=registration,
                platform=platform,
                extensions=attempt_extension,
                contextActivities=ContextActivities(parent=[hall], grouping=[base]),
            ),
            timestamp=stamp,
        )
    )
    if hall_completed:
        statements.append(
            Statement(
                id=statement_id(registration, checkpoint.hall, "completed"),
                actor=actor,
                verb=VERB["completed"],
                object=activities.hall,
                result=Result(success=True, completion=True),
                context=Context(
                    registration=registration,
                    platform=platform,
                    contextActivities=ContextActivities(grouping=[activities.base]),
                ),
                timestamp=stamp,
            )
        )
    return statements


def experienced_statement(
    vocabulary: Vocabulary,
    learner: Learner,
    *,
    hall_id: str,
    diorama_id: str,
    registration: str,
    sequence: int,
    platform: str,
    timestamp: float,
    seconds: float,
    hall_title: Mapping | None = None,
    diorama_title: Mapping | None = None,
) -> Statement:
    """`experienced` a diorama for `seconds` (the `sequence`-th report of it in this visit)."""
    return Statement(
        id=statement_id(registration, hall_id, diorama_id, str(sequence), "experienced"),
        actor=vocabulary.actor(learner),
        verb=VERB["experienced"],
        object=vocabulary.diorama(hall_id, diorama_id, diorama_title),
        result=Result(duration=iso_duration(seconds)),
        context=Context(
            registration=registration,
            platform=platform,
            contextActivities=ContextActivities(
                parent=[reference(vocabulary.hall(hall_id, hall_title))],
                grouping=[reference(vocabulary.training_base())],
            ),
        ),
        timestamp=iso_timestamp(timestamp),
    )


def statements_json(statements: list[Statement], fragments: Mapping[int, str] | None = None) -> list[str]:
    """Each statement's `to_json()`, made faster by reusing the JSON of parts they share.

    Actor, verb, object and context recur across an attempt's statements
    (and activities across attempts: `CheckpointActivities.fragments`); each
    is serialised once.  Same bytes as `to_json()` (a test checks).
    """
    known = dict(fragments or {})

    def part(model: BaseModel) -> str:
        text = known.get(id(model))
        if text is None:  # `statements` keeps `model` alive for this call, so its id stays its own
            text = known[id(model)] = model.model_dump_json(exclude_none=True)
        return text

    texts = []
    for statement in statements:
        text = (
            f'{{"id":"{statement.id}","actor":{part(statement.actor)},"verb":{part(statement.verb)},'
            f'"object":{part(statement.object)}'
        )
        if statement.result is not None:
            text += f',"result":{statement.result.model_dump_json(exclude_none=True)}'
        texts.append(f'{text},"context":{part(statement.context)},"timestamp":"{statement.timestamp}"}}')
    return texts


def reference(activity: Activity) -> Activity:
    """An activity as a context activity: its id and type only."""
    assert activity.definition is not None  # the vocabulary defines every activity it makes
    return Activity(id=activity.id, definition=ActivityDefinition(type=activity.definition.type))


def statement_id(*parts: str) -> str:
    """The deterministic id of the event named by `parts`: `uuid.uuid5(NAMESPACE, parts joined by US)`."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "\x1f".join(parts).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def verb(name: str) -> Verb:
    display, iri = VERBS[name]
    return Verb(id=iri, display={"en-US": name, LANGUAGE: display})


VERB = {name: verb(name) for name in VERBS}


def language_map(text: Mapping | None) -> LanguageMap:
    """A hall text `{zh, en}` as an xAPI language map (`zh-CN`, `en`); empty parts dropped."""
    if not text:
        return {}
    tags = {"zh": LANGUAGE, "en": "en"}
    return {tags.get(key, key): value for key, value in text.items() if value}


def response_text(response) -> str:
    """An xAPI response string: `true`/`false`, or option ids joined by `[,]`."""
    if isinstance(response, bool):
        return "true" if response else "false"
    if isinstance(response, (tuple, list)):
        return "[,]".join(response)
    return str(response)


def iso_timestamp(seconds: float) -> str:
    """UTC, milliseconds, `Z` suffix."""
    whole = math.floor(seconds)
    t = time.gmtime(whole)
    millis = int(round((seconds - whole) * 1e6)) // 1000  # as datetime does: nearest microsecond, then down
    if millis > 999:
        return iso_timestamp(whole + 1.0)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{millis:03d}Z"


def iso_duration(seconds: float) -> str:
    """An ISO 8601 duration to 0.01 s (`PT1H2M3.45S`)."""
    hundredths = max(0, math.floor(seconds * 100 + 0.5))
    hours, rest = divmod(hundredths, 360000)
    minutes, rest = divmod(rest, 6000)
    whole, fraction = divmod(rest, 100)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{whole}.{fraction:02d}S" if fraction else f"{whole}S")
