"""The client's quiz submissions are safe to send again: one key per submission, one retry when the reply is lost."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.client.conftest import manifest_of
from tests.server.test_quiz_support import LossyAttempts
from tools.client.manifest import HallManifest
from tools.client.quiz import QuizApi, QuizError, QuizUnreachable

RIGHT = {"q1": True, "q2": "B"}
WRONG = {"q1": False, "q2": "A"}


@pytest.fixture
def checkpoint(built_project):
    return HallManifest.parse(manifest_of(built_project, "alpha")).checkpoints[0]


def attempts_used(server, api: QuizApi, checkpoint_id: str) -> int:
    request = urllib.request.Request(
        f"{server.url}/api/halls/alpha/checkpoints/{checkpoint_id}", headers={"Authorization": f"Bearer {api.token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["attempts_used"]


def signed_in(server, **options) -> QuizApi:
    api = QuizApi(server.url, retry_delay=0.05, **options)
    api.open_session("m-retry", "张三")
    return api


@pytest.mark.parametrize("mode", ["drop", "stall"])
def test_a_lost_reply_is_retried_once_with_the_same_key_and_counts_one_attempt(
    project, start_hall_server, checkpoint, mode
):
    lossy = LossyAttempts(mode=mode)
    server = start_hall_server(project, prepare=lossy.install)
    api = signed_in(server, timeout=0.5)
    result = api.submit("alpha", checkpoint.id, WRONG)
    assert not result.passed and result.attempts_left is not None
    assert len(lossy.keys) == 2 and lossy.keys[0] == lossy.keys[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,64}", lossy.keys[0])
    assert attempts_used(server, api, checkpoint.id) == 1
    assert api.unsettled == {}


def test_each_new_submission_gets_a_new_key(project, start_hall_server, checkpoint):
    lossy = LossyAttempts(lose=0)
    server = start_hall_server(project, prepare=lossy.install)
    api = signed_in(server)
    first = api.submit("alpha", checkpoint.id, WRONG)
    second = api.submit("alpha", checkpoint.id, WRONG)  # the same answers, but a new try: the first was answered
    assert first.attempts_left - 1 == second.attempts_left
    assert len(set(lossy.keys)) == 2 and attempts_used(server, api, checkpoint.id) == 2


@pytest.mark.parametrize("again", ["the same answers", "other answers"])
def test_submitting_again_after_both_tries_were_lost(project, start_hall_server, checkpoint, again):
    lossy = LossyAttempts(lose=2)
    server = start_hall_server(project, prepare=lossy.install)
    api = signed_in(server)
    with pytest.raises(QuizUnreachable) as lost:
        api.submit("alpha", checkpoint.id, WRONG)
    assert isinstance(lost.value, QuizError)  # callers catching QuizError see it too
    assert attempts_used(server, api, checkpoint.id) == 1  # stored, though the member never saw the result
    same = again == "the same answers"
    result = api.submit("alpha", checkpoint.id, WRONG if same else RIGHT)  # the member presses submit again
    assert result.passed is not same  # other answers are a new try (not a 409), the same ones the stored try
    assert lossy.keys[0] == lossy.keys[1] and (lossy.keys[2] == lossy.keys[0]) is same
    assert attempts_used(server, api, checkpoint.id) == (1 if same else 2)
    if same:  # answered at last: the same answers once more are a new try, under a new key
        assert api.submit("alpha", checkpoint.id, WRONG).attempts_left == result.attempts_left - 1
        assert len(set(lossy.keys)) == 2 and attempts_used(server, api, checkpoint.id) == 2


def test_a_server_that_is_down_fails_after_one_retry(project, start_hall_server, checkpoint):
    server = start_hall_server(project)
    api = signed_in(server)
    api.registrations["alpha"] = "any"
    server.stop()
    with pytest.raises(QuizUnreachable, match="not answering"):
        api.submit("alpha", checkpoint.id, WRONG)
    assert list(api.unsettled) == [("alpha", checkpoint.id)]
