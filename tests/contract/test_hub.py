"""halls_contract.hub: the pose record's layout, packing and unpacking, and the messages both ways."""

from __future__ import annotations

import json

import numpy as np
import pytest

from halls_contract import hub


def test_pose_record_is_32_bytes_with_the_documented_offsets():
    assert hub.POSE_RECORD.size == 32 and hub.BATCH_HEADER.size == 8
    assert hub.POSE_OFFSETS == {
        "id": 0,
        "t": 4,
        "x": 8,
        "y": 12,
        "z": 16,
        "qx": 20,
        "qy": 22,
        "qz": 24,
        "qw": 26,
        "room": 28,
        "flags": 30,
    }


def test_numpy_dtype_has_the_same_layout_as_the_struct():
    dtype = hub.POSE_DTYPE
    assert dtype.itemsize == hub.POSE_RECORD.size
    assert {name: dtype.fields[name][1] for name in dtype.names} == hub.POSE_OFFSETS


def test_pose_batch_packs_and_unpacks_to_the_same_records():
    records = [
        hub.pose_record(7, 123456, (1.5, -2.25, 1.6), (0.0, 0.0, 0.7071, 0.7071), 3, hub.FLAG_TRAINER),
        hub.pose_record(9, 0, (-9999.99, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0), hub.NO_ROOM, hub.FLAG_LEADER),
    ]
    frame = hub.pack_pose_batch(42, records)
    assert len(frame) == 8 + 2 * 32
    tick, unpacked = hub.unpack_pose_batch(frame)
    assert tick == 42 and [tuple(r) for r in unpacked] == records
    assert unpacked[0].position == (1.5, -2.25, 1.6) and unpacked[0].quaternion[3] == pytest.approx(0.7071, abs=1e-4)


def test_numpy_decoding_agrees_with_plain_unpacking():
    records = [hub.pose_record(i, i * 10, (i, -i, 1.6), (0.0, 0.0, 0.0, 1.0), i, 0) for i in range(1, 6)]
    frame = hub.pack_pose_batch(7, records)
    tick, array = hub.decode_pose_batch(frame)
    assert tick == 7 and [tuple(int(v) for v in row) for row in array.tolist()] == records
    assert np.array(records, hub.POSE_DTYPE).tobytes() == frame[hub.BATCH_HEADER.size :]


def test_unpacking_refuses_a_frame_of_another_kind_or_version():
    with pytest.raises(ValueError, match="not a v1 pose batch"):
        hub.unpack_pose_batch(hub.BATCH_HEADER.pack(2, 1, 0, 0))
    with pytest.raises(ValueError, match="not a v1 pose batch"):
        hub.decode_pose_batch(hub.BATCH_HEADER.pack(1, 9, 0, 0))


def test_client_message_errors_name_the_field_and_the_reason():
    with pytest.raises(hub.ProtocolError) as error:
        hub.parse_client_message(json.dumps({"v": 1, "type": "pose", "room": "a", "p": [1e6, 0, 0], "q": [0, 0, 0, 1]}))
    assert error.value.code == hub.CLOSE_POLICY
    assert error.value.reason == "pose.p[0]: input should be less than or equal to 10000"
    with pytest.raises(hub.ProtocolError, match="unknown message type 'dance'"):
        hub.parse_client_message('{"v": 1, "type": "dance"}')


def test_server_messages_read_as_their_models():
    welcome = hub.parse_server_message(
        hub.encode(
            "welcome",
            id=1,
            name="张三",
            role="member",
            hall="red",
            tick_hz=10.0,
            neighbours=32,
            members=[],
            tour=None,
            limits={"max_rate_hz": 20.0, "control_rate_hz": 5.0, "max_message_bytes": 4096},
        )
    )
    assert isinstance(welcome, hub.Welcome) and welcome.limits is not None and welcome.limits.max_rate_hz == 20.0
    cue = hub.parse_server_message(hub.encode("tour", event="goto", exhibit="flag", room="hall", p=[1, 2, 0], leader=4))
    assert isinstance(cue, hub.Tour) and cue.leader == 4 and cue.p == (1.0, 2.0, 0.0)


def test_message_type_names_cover_every_model_once():
    assert len(set(hub.CLIENT_TYPES)) == len(hub.CLIENT_TYPES) == 9
    assert set(hub.SERVER_TYPES) == {"welcome", "joined", "left", "tour", "reload", "build-error", "error", "pong"}
    assert hub.TOUR_TYPES <= set(hub.CLIENT_TYPES)


def test_protocol_version_is_the_number_one_not_true_and_its_absence_is_named():
    """Found by fuzzing the hub: `"v": true` passed as version 1 (Python's True == 1).  JSON Schema's `const: 1`
    refuses true and accepts 1.0; so does the contract now.  A missing `v` no longer echoes the whole message."""
    with pytest.raises(hub.ProtocolError, match=r"^unsupported protocol version True: this server speaks v=1$"):
        hub.parse_client_message('{"v": true, "type": "ping"}')
    assert hub.parse_client_message('{"v": 1.0, "type": "ping"}').v == 1
    with pytest.raises(hub.ProtocolError) as error:
        hub.parse_client_message('{"type": "ping", "t": 5}')
    assert error.value.reason == "missing field 'v' (the protocol version): this server speaks v=1"
