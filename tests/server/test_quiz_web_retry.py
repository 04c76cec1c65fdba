"""The browser's quiz submissions (`server/web/static/js/api.js`, run in Node) are safe to send again.

`submitAttempt` is driven against a real server whose attempt replies get
lost (`LossyAttempts`): the first try is stored, its answer never arrives,
and the retry must carry the same `Idempotency-Key` so that one try counts.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from server.learning.routes import add_quiz
from tests.conftest import ROOT
from tests.server.test_quiz_support import CORRECT, LossyAttempts, quiz_config

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

WRONG = {"s1": "A", "m1": ["A"], "t1": True}
API_JS = ROOT / "server" / "web" / "static" / "js" / "api.js"

DRIVER = r"""
import { pathToFileURL } from 'node:url';
const [base, apiPath, stepsJSON] = process.argv.slice(1);
const store = new Map();
globalThis.localStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
};
const realFetch = globalThis.fetch;
globalThis.fetch = (url, init) => realFetch(new URL(url, base), init); // the page's relative paths
const api = await import(pathToFileURL(apiPath).href);
await api.session.signIn({ member_id: 'm1', name: '张三' });
const out = [];
for (const [checkpoint, answers] of JSON.parse(stepsJSON)) {
  try {
    const result = await api.submitAttempt('alpha', checkpoint, answers, 'browser', { retryDelay: 50, timeout: 700 });
    out.push({ result });
  } catch (error) {
    out.push({ error: error.message, status: error.status });
  }
}
process.stdout.write(JSON.stringify(out));
"""


def drive(url: str, steps: list) -> list[dict]:
    done = subprocess.run(
        ["node", "--input-type=module", "-e", DRIVER, url, str(API_JS), json.dumps(steps)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture
def lossy_server(tmp_path, start_server):
    def start(**lossy):
        config = quiz_config(tmp_path)
        loss = LossyAttempts(**lossy)
        server = start_server(config, prepare=lambda app: (add_quiz(app, config), loss.install(app)))
        return server, loss, Path(config.var_path) / "halls.sqlite"

    return start


def stored(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT number, idempotency_key FROM attempts ORDER BY id").fetchall()


@pytest.mark.parametrize("mode", ["drop", "stall"])
def test_a_lost_reply_is_retried_with_the_same_key_and_one_try_counts(lossy_server, mode):
    server, loss, database = lossy_server(lose=1, mode=mode)
    [step] = drive(server.url, [["quiz1", WRONG]])
    assert step["result"]["attempts_left"] == 2 and not step["result"]["passed"]
    assert len(loss.keys) == 2 and loss.keys[0] == loss.keys[1]
    assert stored(database) == [(1, loss.keys[0])]


def test_after_both_tries_are_lost_submitting_the_same_answers_again_reuses_the_key(lossy_server):
    server, loss, database = lossy_server(lose=2)
    lost, again, changed = drive(
        server.url, [["quiz1", WRONG], ["quiz1", dict(reversed(WRONG.items()))], ["quiz1", CORRECT["quiz1"]]]
    )
    assert lost["status"] == 0
    assert again["result"]["attempts_left"] == 2  # the stored try's result, not a second try
    assert changed["result"]["passed"]
    assert loss.keys[0] == loss.keys[1] == loss.keys[2] != loss.keys[3]
    assert [number for number, _ in stored(database)] == [1, 2]


def test_answered_submissions_each_get_a_new_key(lossy_server):
    server, loss, database = lossy_server(lose=0)
    first, second = drive(server.url, [["quiz1", WRONG], ["quiz1", WRONG]])
    assert (first["result"]["attempts_left"], second["result"]["attempts_left"]) == (2, 1)
    assert len(set(loss.keys)) == 2 and all(len(key) == 36 for key in loss.keys)
