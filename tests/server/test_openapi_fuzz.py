"""Schemathesis from `/api/openapi.json` against a live server: no 5xx, every reply as described, no traceback.

Every operation of the description gets schema-valid (positive) and schema-invalid (negative)
requests, with a signed-in member, trainer or administrator where it needs one and the LRS's Basic
credentials under `/xapi/`.  Some positive requests are aimed at what exists (hall `alpha`, its
checkpoints and diorama, a real registration, the checkpoint's question ids), so grading, storing and
refusing are reached, not only 404s.  Checks: not a server error, status code, content type, headers
and body as described, negative data rejected; and nothing logged with a traceback.

Bounded and repeatable: `HALLS_FUZZ_EXAMPLES` examples per operation and mode (default 8; HEAD
operations a third), derandomized (the same requests every run), no deadline.  A longer run:

    HALLS_FUZZ_EXAMPLES=100 HALLS_FUZZ_REPORT=fuzz.json .venv/bin/pytest -q tests/server/test_openapi_fuzz.py
"""

from __future__ import annotations

import collections
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, cast

import pytest

from server.web.openapi import describe, operations
from tests.server.lrs_support import basic, mount_lrs
from tests.server.test_quiz_support import ADMIN_CODE, CORRECT, KEYS, TRAINER_CODE, Api, quiz_config
from tests.serving import RunningServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("HALLS_FUZZ_EXAMPLES", "8"))
LABELS = sorted(f"{method} {path}" for method, path, _ in operations())
QUESTIONS = {c["id"]: [q["id"] for q in c["questions"]] for checkpoints in KEYS.values() for c in checkpoints}
RIGHT = cast(dict[str, dict[str, Any]], CORRECT)
"""The right responses per checkpoint."""
TARGETS = [  # what exists in the quiz build: a hall, one of its checkpoints, a diorama, a dead letter's id
    {"hall_id": "alpha", "checkpoint_id": "quiz1", "diorama_id": "bridge", "letter_id": 1},
    {"hall_id": "alpha", "checkpoint_id": "quiz2", "diorama_id": "bridge", "letter_id": 1},
    {"hall_id": "beta", "checkpoint_id": "only", "diorama_id": "bridge", "letter_id": 1},
]


class TracebackLog(logging.Handler):
    """Keeps every record logged with an exception (or at ERROR and above)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


class Fuzz:
    """The live server, the description as Schemathesis reads it, who signs in as what, and what the run saw."""

    def __init__(self, server: RunningServer, tokens: dict[str, str], registrations: dict[str, str]) -> None:
        import requests
        import schemathesis

        schema = schemathesis.openapi.from_dict(describe(), config=schemathesis.Config.from_dict({
            "generation": {
                "allow-extra-parameters": False,  # unknown query parameters are ignored, as HTTP APIs do
                "with-security-parameters": False,  # the test signs in itself (`headers`)
            },
            # a precondition (If-Match) is judged before the body is read (RFC 9110 13.2.1): 412 rejects too
            "checks": {"negative_data_rejection": {"expected-statuses": [
                "400", "401", "403", "404", "405", "406", "409", "412", "413", "415", "422", "428", "429"]}},
        }))  # fmt: skip
        from schemathesis.core.result import Ok

        results = list(schema.get_all_operations())
        assert all(isinstance(r, Ok) for r in results), "Schemathesis cannot read part of the description"
        self.operations = {f"{r.ok().method.upper()} {r.ok().path}": r.ok() for r in results if isinstance(r, Ok)}
        self.log = TracebackLog()
        self.server = server
        self.tokens = tokens
        self.registrations = registrations
        self.session = requests.Session()
        self.statuses: collections.Counter = collections.Counter()
        self.by_operation: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.started = time.monotonic()

    def headers(self, label: str) -> dict[str, str]:
        definition = self.operations[label].definition.raw
        security = definition.get("security") or []
        if {"lrs": []} in security:
            return {"Authorization": basic()}
        if {"session": []} in security:
            text = definition.get("description", "")
            role = "admin" if "admin role" in text else "trainer" if "trainer role" in text else "member"
            return {"Authorization": f"Bearer {self.tokens[role]}"}
        return {}


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory, monkeypatch_module):
    pytest.importorskip("schemathesis")
    monkeypatch_module.setattr("server.lrs.store.HASH_ITERATIONS", 1000)  # the hash's cost is not under test
    tmp = tmp_path_factory.mktemp("fuzz")
    config = quiz_config(tmp, lrs_url=None, web_dir=ROOT / "server" / "web" / "static")
    server = RunningServer(config, mount_lrs(config))
    api = Api(server.port)
    tokens = {
        "member": api.sign_in("m1"),
        "trainer": api.sign_in("t1", enrolment_code=TRAINER_CODE),
        "admin": api.sign_in("root", enrolment_code=ADMIN_CODE),
    }
    registrations = {hall: api.visit(tokens["member"], hall) for hall in ("alpha", "beta")}
    run = Fuzz(server, tokens, registrations)
    logging.getLogger().addHandler(run.log)
    yield run
    server.stop()
    logging.getLogger().removeHandler(run.log)
    report = {
        "operations": len(run.by_operation),
        "examples": sum(run.statuses.values()),
        "statuses": dict(sorted(run.statuses.items())),
        "seconds": round(time.monotonic() - run.started, 1),
        "examples_per_operation_and_mode": EXAMPLES,
    }
    logging.getLogger(__name__).info("fuzz: %s", json.dumps(report))
    if os.environ.get("HALLS_FUZZ_REPORT"):
        report["by_operation"] = {k: dict(sorted(v.items())) for k, v in sorted(run.by_operation.items())}
        Path(os.environ["HALLS_FUZZ_REPORT"]).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def negatable(definition: dict) -> bool:
    """Whether a schema-invalid request exists: a body, a constrained parameter, or a required one to leave out.

    (For the rest Hypothesis would only search a few seconds to find that none does.)
    """
    if "requestBody" in definition:
        return True
    for parameter in definition.get("parameters", []):
        constraints = set(parameter.get("schema", {})) - {"type", "description", "examples"}
        if constraints or parameter["schema"].get("type", "string") != "string":
            return True
        if parameter.get("required") and parameter["in"] != "path":
            return True
    return False


def aim(case, fuzz: Fuzz, choice: int) -> None:
    """Point a positive case at what exists (`choice` 0 leaves it as generated)."""
    if not choice:
        return
    target = TARGETS[choice % len(TARGETS)]
    for name, value in target.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    hall = (case.path_parameters or {}).get("hall_id")
    if isinstance(case.body, dict):
        if "registration" in case.body and hall in fuzz.registrations:
            case.body["registration"] = fuzz.registrations[hall]
        answers = case.body.get("answers")
        checkpoint = str((case.path_parameters or {}).get("checkpoint_id"))
        if isinstance(answers, dict) and checkpoint in QUESTIONS:
            if choice in (1, 2, 3):  # right, so the checkpoint (and then the hall) is passed
                case.body["answers"] = dict(RIGHT[checkpoint])
            elif choice in (4, 5, 6):  # right ids, each response flipped to another valid one: graded as wrong
                case.body["answers"] = {q: _other(value) for q, value in RIGHT[checkpoint].items()}
            else:  # the generated responses under the checkpoint's question ids
                ids = QUESTIONS[checkpoint]
                case.body["answers"] = {ids[i % len(ids)]: value for i, value in enumerate(answers.values())}


def _other(response):
    if isinstance(response, bool):
        return not response
    if isinstance(response, list):
        return response[:1]
    return "A" if response != "A" else "B"


@pytest.mark.parametrize("label", LABELS)
def test_operation_answers_as_described(fuzz, label):
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi import checks

    described = [not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
                 checks.response_headers_conformance, checks.response_schema_conformance,
                 checks.negative_data_rejection]  # fmt: skip
    operation = fuzz.operations[label]
    headers = fuzz.headers(label)
    examples = max(2, EXAMPLES // 3) if operation.method.upper() == "HEAD" else EXAMPLES
    fuzz.log.records.clear()

    modes = [GenerationMode.POSITIVE] + [GenerationMode.NEGATIVE] * negatable(operation.definition.raw)
    for mode in modes:

        @settings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @given(case=operation.as_strategy(generation_mode=mode), choice=st.integers(0, 7))
        def run(case, choice):
            if case.meta is not None and case.meta.generation.mode.is_positive:
                aim(case, fuzz, choice)
            response = case.call(base_url=fuzz.server.url, headers=headers, session=fuzz.session, timeout=30)
            fuzz.statuses[response.status_code] += 1
            fuzz.by_operation[label][response.status_code] += 1
            case.validate_response(
                response,
                checks=described,
                headers=headers,
                transport_kwargs={"base_url": fuzz.server.url, "headers": headers},
            )

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, f"{label}: no valid request can be made"  # nothing to negate
    tracebacks = [f"{r.name}: {r.getMessage()}" for r in fuzz.log.records]
    assert tracebacks == [], f"{label}: the server logged errors"
