"""The hub on a real aiohttp server with real WebSocket clients: presence, interest, tours, reload."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from server.hub.service import broadcast_reload, hub_stats
from tests.server.test_hub_support import HubClient, run, running_hub, stats


def ids(records) -> set[int]:
    return set(records["id"].tolist())


def test_two_members_see_each_others_poses_with_quantised_positions():
    async def scenario():
        async with running_hub() as (app, base):
            ann = await HubClient.join(base, "Ann")
            bo = await HubClient.join(base, "Bo")
            assert bo.welcome["members"] == [{"id": ann.id, "name": "Ann", "role": "member"}]
            assert (await ann.expect("joined"))["members"] == [{"id": bo.id, "name": "Bo", "role": "member"}]
            await ann.pose("lobby", (1.234, 2.0, 1.6), q=(0, 0, 0.7071068, 0.7071068), t=1000)
            await bo.pose("lobby", (2.0, 2.0, 1.6), t=2000)
            seen_by_bo = await bo.batch()
            seen_by_ann = await ann.batch()
            assert seen_by_bo.tolist() == [(ann.id, 1000, 123, 200, 160, 0, 0, 23170, 23170, 0, 0)]
            assert ids(seen_by_ann) == {bo.id} and seen_by_ann["t"][0] == 2000
            await ann.close()
            assert (await bo.expect("left"))["ids"] == [ann.id]
            await bo.close()

    run(scenario())


def test_batch_holds_only_the_nearest_k_members():
    async def scenario():
        async with running_hub(hub_neighbours=3) as (app, base):
            me = await HubClient.join(base, "me")
            await me.pose("lobby", (0.5, 0.5, 0))
            others = []
            for i in range(6):  # at 1 m, 2 m, ... 6 m along x
                other = await HubClient.join(base, f"m{i}")
                await other.pose("lobby", (0.5 + (i + 1), 0.5, 0))
                others.append(other)
            nearest3 = {o.id for o in others[:3]}
            records = await me.batch(until=lambda r: ids(r) == nearest3)
            assert len(records) == 3
            farthest = await others[-1].batch(until=lambda r: len(r) == 3)
            assert ids(farthest) == {others[4].id, others[3].id, others[2].id}
            for client in [me, *others]:
                await client.close()

    run(scenario())


def test_members_see_only_their_own_and_adjacent_rooms():
    async def scenario():
        async with running_hub() as (app, base):
            lobby = await HubClient.join(base, "lobby")
            east = await HubClient.join(base, "east")
            north = await HubClient.join(base, "north")
            far = await HubClient.join(base, "far")
            await lobby.pose("lobby", (9, 5, 0))
            await east.pose("east", (11, 5, 0))
            await north.pose("north", (5, 11, 0))
            await far.pose("far", (101, 5, 0))
            everyone = {lobby.id, east.id, north.id}
            assert ids(await lobby.batch(until=lambda r: len(r) == 2)) == {east.id, north.id}
            # east and north are both next to the lobby but not to each other
            assert ids(await east.batch(until=lambda r: lobby.id in ids(r))) == {lobby.id}
            assert ids(await north.batch(until=lambda r: lobby.id in ids(r))) == {lobby.id}
            # far has no doorway to them: it gets no batch at all
            with pytest.raises(TimeoutError):
                await far.batch(timeout=0.5)
            # walking through the doorway into the lobby makes far visible to all three
            await far.pose("lobby", (5, 5, 0))
            assert ids(await far.batch(until=lambda r: len(r) == 3)) == everyone
            for client in (lobby, east, north, far):
                await client.close()

    run(scenario())


def test_batch_flags_trainers_and_the_tour_leader():
    async def scenario():
        async with running_hub() as (app, base):
            guide = await HubClient.join(base, "Guide", role="trainer", key="sesame")
            ann = await HubClient.join(base, "Ann")
            await guide.pose("lobby", (1, 1, 0))
            await ann.pose("lobby", (2, 1, 0))
            assert (await ann.batch())["flags"].tolist() == [1]
            await guide.send(type="tour-start")
            await ann.expect("tour", event="start")
            await guide.pose("lobby", (1, 2, 0))
            assert (await ann.batch(until=lambda r: r["flags"][0] == 3))["id"][0] == guide.id
            await guide.close()
            await ann.close()

    run(scenario())


def test_tour_trainer_leads_and_followers_get_goto_narrate_and_gather():
    async def scenario():
        async with running_hub() as (app, base):
            guide = await HubClient.join(base, "Guide", role="trainer", key="sesame")
            assert guide.welcome["role"] == "trainer"
            follower = await HubClient.join(base, "Fei")
            bystander = await HubClient.join(base, "Bea")
            await guide.send(type="tour-start")
            start = await follower.expect("tour", event="start")
            assert start["leader"] == {"id": guide.id, "name": "Guide"}
            await bystander.expect("tour", event="start")
            await follower.send(type="follow", on=True)
            assert (await follower.expect("tour", event="following"))["on"] is True
            note = await guide.expect("tour", event="follower")
            assert note["member"]["id"] == follower.id and note["followers"] == 1

            await guide.send(type="tour-goto", exhibit="lamp")
            goto = await follower.expect("tour", event="goto")
            assert goto == {
                "v": 1,
                "type": "tour",
                "event": "goto",
                "exhibit": "lamp",
                "room": "east",
                "p": [15.0, 5.0, 0.0],
                "leader": guide.id,
            }
            await guide.send(type="tour-narrate", text="这盏矿灯陪伴了三代矿工。")
            assert (await follower.expect("tour", event="narrate"))["text"] == "这盏矿灯陪伴了三代矿工。"
            await guide.send(type="tour-gather", room="lobby", p=[5, 5, 0])
            gather = await follower.expect("tour", event="gather")
            assert gather["room"] == "lobby" and gather["p"] == [5, 5, 0]

            # a late follower catches up with the last goto/gather
            late = await HubClient.join(base, "Lu")
            assert late.welcome["tour"]["leader"]["id"] == guide.id
            await late.send(type="follow", on=True)
            assert (await late.expect("tour", event="following"))["last"]["event"] == "gather"

            await guide.send(type="tour-end")
            assert (await follower.expect("tour", event="end"))["reason"] == "leader-ended"
            await bystander.expect("tour", event="end")
            # the bystander never followed: it saw start and end only
            assert [m["event"] for m in bystander.seen if m["type"] == "tour"] == ["start", "end"]
            for client in (guide, follower, bystander, late):
                await client.close()

    run(scenario())


def test_member_cannot_lead_a_tour():
    async def scenario():
        async with running_hub() as (app, base):
            member = await HubClient.join(base, "Mo", role="trainer", key="wrong key")
            assert member.welcome["role"] == "member"
            other = await HubClient.join(base, "Ot")
            for message in (
                {"type": "tour-start"},
                {"type": "tour-goto", "exhibit": "lamp"},
                {"type": "tour-narrate", "text": "hi"},
                {"type": "tour-end"},
            ):
                await member.send(**message)
                error = await member.expect("error")
                assert error["code"] == "forbidden" and error["ref"] == message["type"]
            assert stats(app)["tours"] == {}
            await member.send(type="ping", t=7)
            assert (await member.expect("pong"))["t"] == 7
            assert not [m for m in other.seen if m["type"] == "tour"]
            await member.close()
            await other.close()

    run(scenario())


def test_tour_leaving_leader_ends_tour_and_second_trainer_is_refused():
    async def scenario():
        async with running_hub() as (app, base):
            first = await HubClient.join(base, "One", role="trainer", key="sesame")
            second = await HubClient.join(base, "Two", role="trainer", key="sesame")
            follower = await HubClient.join(base, "Fo")
            await first.send(type="tour-start")
            await follower.expect("tour", event="start")
            await second.send(type="tour-start")
            assert (await second.expect("error"))["code"] == "tour-active"
            await second.send(type="tour-goto", exhibit="lamp")
            assert (await second.expect("error"))["code"] == "not-leader"
            await first.send(type="tour-goto", exhibit="nope")
            assert (await first.expect("error"))["code"] == "unknown-exhibit"
            await first.close()
            end = await follower.expect("tour", event="end")
            assert end["reason"] == "leader-left"
            await second.send(type="tour-start")
            assert (await follower.expect("tour", event="start"))["leader"]["id"] == second.id
            await second.close()
            await follower.close()

    run(scenario())


def test_reload_reaches_members_and_build_errors_reach_trainers_only():
    async def scenario():
        async with running_hub() as (app, base):
            member = await HubClient.join(base, "Mem")
            trainer = await HubClient.join(base, "Tra", role="trainer", key="sesame")
            await broadcast_reload(app, "alpha", ["alpha/lobby", "alpha/east"], None)
            for client in (member, trainer):
                notice = await client.expect("reload")
                assert notice == {"v": 1, "type": "reload", "hall": "alpha", "chunks": ["alpha/lobby", "alpha/east"]}
            await broadcast_reload(app, None, [], "halls/alpha.yaml:3:5: rooms[0].size: expected 3 numbers")
            error = await trainer.expect("build-error")
            assert error["text"].startswith("halls/alpha.yaml:3:5:")
            await broadcast_reload(app, "beta", ["beta/x"], None)  # nobody in beta
            await broadcast_reload(app, None, ["alpha/north"], None)
            assert (await member.expect("reload"))["chunks"] == ["alpha/north"]
            assert not [m for m in member.seen if m["type"] in ("build-error",) or m.get("hall") == "beta"]
            await member.close()
            await trainer.close()

    run(scenario())


def test_unknown_hall_answers_404_before_upgrading():
    async def scenario():
        async with running_hub() as (app, base):
            async with aiohttp.ClientSession() as session:
                async with session.get(base.replace("ws://", "http://") + "/ws/halls/nowhere") as response:
                    assert response.status == 404
                    assert await response.json() == {"error": "no such hall 'nowhere'"}

    run(scenario())


def test_hub_stats_reports_connections_members_and_ticks():
    async def scenario():
        async with running_hub() as (app, base):
            ann = await HubClient.join(base, "Ann")
            await ann.pose("lobby", (1, 1, 0))
            await asyncio.sleep(0.2)
            report = hub_stats(app)
            assert report["backend"] == "local"
            assert report["connections"] == 1
            assert report["members"] == {"alpha": 1}
            assert report["queue_depth"]["max"] >= 0
            assert report["dropped"] == {"slow_consumer": 0, "protocol": 0, "heartbeat": 0}
            assert report["ticks"]["count"] >= 2
            await ann.close()

    run(scenario())


def test_shutdown_closes_sockets_with_going_away():
    async def scenario():
        async with running_hub() as (app, base):
            ann = await HubClient.join(base, "Ann")
            closing = asyncio.create_task(ann.closed())
        assert await closing == (1001, "server shutting down")

    run(scenario())
