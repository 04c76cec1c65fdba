"""Bad clients: every class of bad message closes that client with its code, others keep their tick."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from tests.server.test_hub_support import HubClient, keep_walking, run, running_hub, stats

POSE = {"type": "pose", "room": "lobby", "p": [1, 1, 0], "q": [0, 0, 0, 1]}

# (case id, frames sent after joining, close code, reason fragment)
BAD_MESSAGES = [
    ("malformed-json", ['{"v":1,"type":"pose",'], 1008, "malformed JSON"),
    ("not-an-object", ["[1, 2, 3]"], 1008, "message must be a JSON object"),
    ("unknown-type", ['{"v":1,"type":"dance"}'], 1008, "unknown message type 'dance'"),
    ("missing-type", ['{"v":1}'], 1008, "missing field 'type'"),
    ("wrong-version", ['{"v":2,"type":"ping"}'], 1008, "unsupported protocol version 2"),
    ("version-true", ['{"v":true,"type":"ping"}'], 1008, "unsupported protocol version True"),  # found by fuzzing
    ("missing-version", ['{"type":"ping"}'], 1008, "missing field 'v' (the protocol version): this server speaks v=1"),
    (
        "missing-field",
        [json.dumps({"v": 1, "type": "pose", "room": "lobby", "p": [1, 1, 0]})],
        1008,
        "pose.q: field required",
    ),
    (
        "out-of-range-position",
        [json.dumps({"v": 1, **POSE, "p": [1e9, 0, 0]})],
        1008,
        "pose.p[0]: input should be less than or equal to 10000",
    ),
    (
        "not-a-number",
        [json.dumps({"v": 1, **POSE, "p": ["1", 0, 0]})],
        1008,
        "pose.p[0]: input should be a valid number",
    ),
    (
        "nan",
        ['{"v":1,"type":"pose","room":"lobby","p":[0,0,NaN],"q":[0,0,0,1]}'],
        1008,
        "pose.p[2]: input should be a finite number",
    ),
    ("zero-quaternion", [json.dumps({"v": 1, **POSE, "q": [0, 0, 0, 0]})], 1008, "pose.q: not a unit quaternion"),
    ("unknown-room", [json.dumps({"v": 1, **POSE, "room": "attic"})], 1008, "pose.room: no room 'attic'"),
    ("timestamp-out-of-range", [json.dumps({"v": 1, **POSE, "t": -5})], 1008, "pose.t: input should be greater"),
    (
        "narration-too-long",
        [json.dumps({"v": 1, "type": "tour-narrate", "text": "x" * 2001})],
        1008,
        "tour-narrate.text: string should have at most 2000 characters",
    ),
    ("join-twice", [json.dumps({"v": 1, "type": "join", "name": "again"})], 1008, "join: already joined"),
    ("binary-frame", [b"\x01\x02\x03"], 1003, "binary frames are not accepted"),
    ("too-big", [json.dumps({"v": 1, "type": "ping", "pad": "x" * 5000})], 1009, "exceeds the limit of 4096"),
    (
        "far-too-big",
        [json.dumps({"v": 1, "type": "ping", "pad": "x" * 40000})],
        1009,
        "message of more than 16383 bytes exceeds the limit of 4096",
    ),  # aiohttp refuses it: the reason was empty
    ("pose-flood", [json.dumps({"v": 1, **POSE})] * 150, 1008, "rate limit: more than 20 poses a second"),
    ("control-flood", [json.dumps({"v": 1, "type": "ping"})] * 40, 1008, "rate limit: more than 5 messages a second"),
]


@pytest.mark.parametrize(
    "frames, code, reason", [case[1:] for case in BAD_MESSAGES], ids=[case[0] for case in BAD_MESSAGES]
)
def test_bad_message_closes_only_that_client(frames, code, reason):
    async def scenario():
        async with running_hub() as (app, base):
            walker = await HubClient.join(base, "walker")
            watcher = await HubClient.join(base, "watcher")
            await watcher.pose("lobby", (2, 2, 0))
            stop = asyncio.Event()
            walking = asyncio.create_task(keep_walking(walker, "lobby", (1, 1, 0), stop))
            await watcher.batch()

            bad = await HubClient.join(base, "bad")
            for frame in frames:
                await bad.ws.send(frame)
            closed_with, because = await bad.closed()
            assert closed_with == code and reason in because

            # the others are unaffected: fresh poses keep arriving every tick
            for _ in range(5):
                records = await watcher.batch(timeout=1.0)
                assert walker.id in records["id"]
            assert stats(app)["dropped"]["protocol"] == 1
            assert (await watcher.expect("left"))["ids"] == [bad.welcome["id"]]
            stop.set()
            await walking
            await walker.close()
            await watcher.close()

    run(scenario())


@pytest.mark.parametrize(
    "first, reason",
    [
        ({"type": "pose", "room": "lobby", "p": [0, 0, 0], "q": [0, 0, 0, 1]}, "pose: send join first"),
        ({"type": "join", "name": "   "}, "join.name: string should match pattern"),
        ({"type": "join", "name": "x" * 41}, "join.name: string should have at most 40 characters"),
        ({"type": "join", "name": "a\u0007b"}, "join.name: string should match pattern"),
        ({"type": "join", "name": "\u3000"}, "join: name must not be blank"),
        (
            {"type": "join", "name": "x", "token": "v1." + "x" * 510},
            "join.token: string should have at most 512 characters",
        ),
        ({"type": "join", "name": "x", "token": "v1.abc.def"}, "join: session tokens are not enabled on this server"),
    ],
    ids=[
        "pose-before-join",
        "blank-name",
        "long-name",
        "control-character",
        "ideographic-space",
        "long-token",
        "token-without-accounts",
    ],
)
def test_bad_join_is_refused_with_1008(first, reason):
    async def scenario():
        async with running_hub() as (app, base):
            client = await HubClient.open(base)
            await client.send(**first)
            code, text = await client.closed()
            assert code == 1008 and text.startswith(reason)
            assert stats(app)["members"] == {}

    run(scenario())


def test_silent_socket_must_join_in_time():
    async def scenario():
        async with running_hub(hub_join_timeout=0.3) as (app, base):
            client = await HubClient.open(base)
            assert await client.closed() == (1008, "join: no join message in time")

    run(scenario())


def test_slow_consumer_is_dropped_while_others_keep_their_tick():
    async def scenario():
        async with running_hub(hub_queue_limit=4, hub_send_buffer=4096) as (app, base):
            walker = await HubClient.join(base, "walker")
            watcher = await HubClient.join(base, "watcher")
            await watcher.pose("lobby", (2, 2, 0))
            stop = asyncio.Event()
            walking = asyncio.create_task(keep_walking(walker, "lobby", (1, 1, 0), stop))

            # A member that never reads: small receive buffer, the client library reads nothing ahead.
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            host, port = base.removeprefix("ws://").split(":")
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
            slow = await HubClient.open(base, sock=sock, max_queue=1)
            await slow.send(type="join", name="slow")
            await slow.pose("lobby", (3, 3, 0))
            slow.ws.transport.pause_reading()

            # Live-reload notices with long chunk lists fill the slow member's buffers quickly.
            gaps, last = [], asyncio.get_running_loop().time()
            loop = asyncio.get_running_loop()
            while stats(app)["dropped"]["slow_consumer"] == 0:
                assert loop.time() - last < 5, "the slow consumer was never dropped"
                await app_reload(app)
                records = await watcher.batch(timeout=1.0)
                assert walker.id in records["id"]
                now = loop.time()
                gaps.append(now - last)
                last = now
            assert max(gaps) < 0.5, f"the watcher's tick stalled: {max(gaps):.2f} s"
            left = await watcher.expect("left", timeout=3)
            assert len(left["ids"]) == 1 and left["ids"][0] not in (walker.id, watcher.id)
            for _ in range(5):  # and the tick goes on
                assert walker.id in (await watcher.batch(timeout=1.0))["id"]
            assert stats(app)["members"] == {"alpha": 2}
            stop.set()
            await walking
            await walker.close()
            await watcher.close()
            sock.close()

    run(scenario())


async def app_reload(app):
    from server.hub.service import broadcast_reload

    await broadcast_reload(app, "alpha", [f"alpha/chunk-{i:04d}" for i in range(300)], None)


def test_heartbeat_closes_a_dead_connection():
    async def scenario():
        async with running_hub(hub_heartbeat=0.3) as (app, base):
            watcher = await HubClient.join(base, "watcher")
            dead = await HubClient.join(base, "dead", ping_interval=None)
            dead.ws.transport.pause_reading()  # never reads again: no pong for the server's ping
            left = await watcher.expect("left", timeout=5)
            assert left["ids"] == [dead.id]
            assert stats(app)["dropped"]["heartbeat"] == 1
            await watcher.close()
            dead.ws.transport.abort()

    run(scenario())
