"""The load tool: its delivery arithmetic, and a short run against a real hub."""

from __future__ import annotations

import numpy as np

from halls_contract.hub import POSE_DTYPE, encode_batch_header
from tests.server.test_hub_support import MANIFEST, run, running_hub
from tools.loadtest import Floor, MemberLog, Run, execute, hub_url, summarise


def batch(*poses: tuple[int, int]) -> bytes:
    records = np.zeros(len(poses), POSE_DTYPE)
    for record, (member_id, t) in zip(records, poses):
        record["id"], record["t"] = member_id, t
    return encode_batch_header(len(poses), 0) + records.tobytes()


def test_summarise_counts_superseded_poses_as_delivered_and_late_ones_as_lost():
    sender = MemberLog(id=1, sent=[1000, 1100, 1200, 1300, 1400])
    receiver = MemberLog(
        id=2,
        batches=[
            (1150.0, batch((1, 1100))),  # first sighting: counts for itself only
            (1350.0, batch((1, 1300))),  # covers 1200 (superseded) and 1300
            (2600.0, batch((1, 1400))),  # 1.2 s late: not delivered
            (2650.0, batch((1, 1400))),  # the same pose again next tick: ignored
        ],
    )
    report = summarise([sender, receiver], (0.0, 10_000.0), tick_hz=10)
    assert report["delivered"] == 0.75
    assert report["exact"] == 0.75
    assert report["receipts"] == 3
    assert report["latency_ms"]["p50"] == 50.0 and report["latency_ms"]["max"] == 1200.0
    assert report["drops"] == {"closed": {}, "members_closed": 0}


def test_summarise_reports_members_the_server_closed():
    report = summarise([MemberLog(id=1, closed=1013, reason="slow"), MemberLog(id=2)], (0.0, 1000.0), 10)
    assert report["drops"] == {"closed": {"1013": 1}, "members_closed": 1}
    assert report["delivered"] is None


def test_hub_url_accepts_a_server_or_a_full_hall_url():
    assert hub_url("ws://127.0.0.1:8080", "lobby") == "ws://127.0.0.1:8080/ws/halls/lobby"
    assert hub_url("wss://halls.example/ws/halls/red", "lobby") == "wss://halls.example/ws/halls/red"


def test_loadtest_walks_members_through_a_real_hub():
    async def scenario():
        async with running_hub(hub_tick_hz=10) as (app, base):
            load = Run(
                hub_url(base, "alpha"), members=6, rate=10, seconds=1.5, warmup=0.5, floor=Floor.from_manifest(MANIFEST)
            )
            return await execute(load)

    report = run(scenario())
    assert report["drops"]["members_closed"] == 0
    assert report["delivered"] >= 0.95
    assert report["receipts"] > 0
    assert 8 <= report["batches_per_s"] <= 11
    assert 0 < report["latency_ms"]["p50"] < 200


def test_summarise_without_a_tick_owes_every_pose_to_every_other_member():
    sender = MemberLog(id=1, sent=[100, 200, 300])
    prompt = MemberLog(id=2, batches=[(150.0, batch((1, 100))), (250.0, batch((1, 200))), (350.0, batch((1, 300)))])
    starved = MemberLog(id=3, batches=[(2500.0, batch((1, 100)))])  # 2.4 s late
    report = summarise([sender, prompt, starved], (0.0, 10_000.0), tick_hz=0)
    assert report["delivered"] == round(3 / 6, 5)
    assert report["latency_ms"]["max"] == 2400.0
    assert report["batches_per_s"] is None
