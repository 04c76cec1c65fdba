"""Ralph (a real external LRS) accepts the statements we build, and the harness survives a restart."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest

from server.lrs.validate import validate_statement
from tests.server.lrs_support import spec_examples
from tests.server.ralph import ralph, ralph_running  # noqa: F401 - fixtures

BASE = "https://halls.example"
REGISTRATION = str(uuid.uuid5(uuid.NAMESPACE_URL, "visit-1"))
ACTOR = {"objectType": "Agent", "name": "张三", "account": {"homePage": BASE, "name": "m-1001"}}
CONTEXT: dict[str, Any] = {
    "registration": REGISTRATION,
    "contextActivities": {
        "parent": [{"id": f"{BASE}/xapi/halls/safety", "objectType": "Activity"}],
        "grouping": [{"id": f"{BASE}/xapi/base/tunlan", "objectType": "Activity"}],
    },
    "platform": "browser",
    "language": "zh-CN",
}


def hall_statements() -> list[dict]:
    """Statements of the kinds the hall server sends: answered, passed, completed, experienced."""
    checkpoint = f"{BASE}/xapi/checkpoints/safety-1"
    return [
        {
            "id": str(uuid.uuid4()),
            "actor": ACTOR,
            "verb": {
                "id": "http://adlnet.gov/expapi/verbs/answered",
                "display": {"zh-CN": "回答", "en-US": "answered"},
            },
            "object": {
                "objectType": "Activity",
                "id": f"{checkpoint}/q1",
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                    "interactionType": "choice",
                    "name": {"zh-CN": "哪个是廉洁主题展厅？"},
                    "correctResponsesPattern": ["B"],
                    "choices": [
                        {"id": "A", "description": {"zh-CN": "红色屯兰"}},
                        {"id": "B", "description": {"zh-CN": "廉洁屯兰"}},
                    ],
                },
            },
            "result": {"response": "B", "success": True},
            "context": {
                **CONTEXT,
                "contextActivities": {
                    **CONTEXT["contextActivities"],
                    "parent": [{"id": checkpoint, "objectType": "Activity"}],
                },
            },
            "timestamp": "2026-03-01T08:00:00.000Z",
        },
        {
            "id": str(uuid.uuid4()),
            "actor": ACTOR,
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"zh-CN": "通过", "en-US": "passed"}},
            "object": {
                "objectType": "Activity",
                "id": checkpoint,
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/assessment",
                    "name": {"zh-CN": "安全知识小测验"},
                },
            },
            "result": {"score": {"scaled": 0.8, "raw": 4, "min": 0, "max": 5}, "success": True, "duration": "PT2M5.5S"},
            "context": CONTEXT,
            "timestamp": "2026-03-01T08:02:05.500Z",
        },
        {
            "id": str(uuid.uuid4()),
            "actor": ACTOR,
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"zh-CN": "完成"}},
            "object": {"objectType": "Activity", "id": f"{BASE}/xapi/halls/safety"},
            "result": {"completion": True},
            "context": {**CONTEXT, "contextActivities": {"grouping": CONTEXT["contextActivities"]["grouping"]}},
        },
        {
            "id": str(uuid.uuid4()),
            "actor": ACTOR,
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"zh-CN": "参观"}},
            "object": {"objectType": "Activity", "id": f"{BASE}/xapi/dioramas/langya"},
            "result": {"duration": "PT95S"},
            "context": CONTEXT,
        },
    ]


async def _post(ralph, statements) -> list[int]:
    headers = {"X-Experience-API-Version": "1.0.3", "Authorization": aiohttp.encode_basic_auth(ralph.key, ralph.secret)}
    async with aiohttp.ClientSession(headers=headers) as session:
        statuses = []
        for item in statements:
            async with session.post(ralph.url + "statements", json=item) as response:
                statuses.append(response.status)
                if response.status == 200:
                    assert await response.json() == [item["id"]]
        return statuses


async def _get(ralph, statement_id: str) -> dict:
    headers = {"X-Experience-API-Version": "1.0.3", "Authorization": aiohttp.encode_basic_auth(ralph.key, ralph.secret)}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(ralph.url + "statements", params={"statementId": statement_id}) as response:
            assert response.status == 200
            found = await response.json()
    return found["statements"][0] if "statements" in found else found  # Ralph answers a StatementResult


def test_ralph_accepts_hall_statements_and_returns_them(ralph_running):
    ralph = ralph_running
    statements = hall_statements()
    for item in statements:
        validate_statement(item)  # what we send is valid for our own LRS too
    assert asyncio.run(_post(ralph, statements)) == [200] * len(statements)
    for item in statements:
        got = asyncio.run(_get(ralph, item["id"]))
        assert got["id"] == item["id"] and got["verb"]["id"] == item["verb"]["id"]
        assert got["actor"]["account"] == ACTOR["account"]
    assert {s["id"] for s in statements} <= {s["id"] for s in ralph.statements()}


@pytest.mark.parametrize(
    "name", ["simplest (Part 2 2.4)", "attempted (Part 2 Appendix A)", "cross-domain content (Part 3 Appendix C)"]
)
def test_ralph_accepts_specification_examples(ralph_running, name):
    ralph = ralph_running
    item = dict(spec_examples()["statements"][name])
    item["id"] = str(uuid.uuid4())
    assert asyncio.run(_post(ralph, [item])) == [200]


def test_ralph_keeps_statements_across_a_restart_and_answers_a_resend_with_204(ralph_running):
    ralph = ralph_running
    first, second = hall_statements()[:2]
    assert asyncio.run(_post(ralph, [first])) == [200]
    ralph.stop()
    assert not ralph.running
    ralph.start()
    assert asyncio.run(_post(ralph, [second])) == [200]
    assert asyncio.run(_post(ralph, [first])) == [204]  # Ralph's answer to a re-sent statement
    ids = [s["id"] for s in ralph.statements()]
    assert ids.count(first["id"]) == 1 and ids.count(second["id"]) == 1
