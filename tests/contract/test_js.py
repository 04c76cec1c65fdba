"""The viewer's contract.js: generated from the contract, current, and used for what both clients share."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from halls_contract import body, hub, js
from tests.conftest import ROOT

STATIC = ROOT / "server" / "web" / "static" / "js"


def test_committed_contract_js_is_what_the_generator_makes():
    assert js.TARGET == STATIC / "contract.js"
    assert js.TARGET.read_text(encoding="utf-8") == js.render(), (
        "server/web/static/js/contract.js is stale: run `python -m halls_contract.js` and commit it"
    )


def test_check_mode_fails_on_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "contract.js"
    stale.write_text("export const BODY_RADIUS = 0.25;\n", encoding="utf-8")
    assert js.main(["--out", str(stale), "--check"]) == 1
    assert "python -m halls_contract.js" in capsys.readouterr().err
    assert js.main(["--out", str(stale)]) == 0 and js.main(["--out", str(stale), "--check"]) == 0


def test_viewer_modules_take_shared_numbers_from_contract_js():
    for name in ("presence.js", "walls.js", "viewer.js", "tour.js", "avatars.js", "api.js"):
        assert "from './contract.js'" in (STATIC / name).read_text(encoding="utf-8"), name
    assert "RADIUS = 0.25" not in (STATIC / "walls.js").read_text(encoding="utf-8")


def test_both_clients_walk_with_the_contracts_body():
    from tools.client.walk import WalkSettings

    assert (WalkSettings().radius, WalkSettings().eye_height, WalkSettings().step_up) == (
        body.BODY_RADIUS,
        body.EYE_HEIGHT,
        body.STEP_UP,
    )
    assert f"export const BODY_RADIUS = {body.BODY_RADIUS};" in js.render()
    assert f"export const EYE_HEIGHT = {body.EYE_HEIGHT};" in js.render()


DECODE = """
const [presencePath, wallsPath, frame] = process.argv.slice(1);
const { Presence } = await import(presencePath);
const { collide } = await import(wallsPath);
let got = null;
const presence = new Presence('hall', {}, { poses: (records) => { got = records; } });
presence.batch(new Uint8Array(Buffer.from(frame, 'base64')).buffer);
// a walker pushed into a wall along x = 0 stops its body radius away from it
const stop = collide({ segments: [[0, -5, 0, 5]], portals: [], rooms: [] }, [2, 0], [-1, 0]);
console.log(JSON.stringify({ records: got, stop }));
"""


@pytest.mark.needs_system("node")
def test_viewer_decodes_a_pose_batch_as_the_contract_packs_it_and_keeps_the_body_radius_from_walls():
    import base64

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    records = [hub.pose_record(7, 99, (1.5, -2.25, 1.6), (0.0, 0.0, 0.6, 0.8), 3, hub.FLAG_LEADER)]
    frame = base64.b64encode(hub.pack_pose_batch(5, records)).decode()
    done = subprocess.run(
        [
            "node",
            "--input-type=module",
            "-e",
            DECODE,
            (STATIC / "presence.js").as_uri(),
            (STATIC / "walls.js").as_uri(),
            frame,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    [record] = result["records"]
    assert record["id"] == 7 and record["position"] == [1.5, -2.25, 1.6] and record["room"] == 3
    assert record["flags"] == hub.FLAG_LEADER and record["quaternion"] == pytest.approx([0, 0, 0.6, 0.8], abs=1e-4)
    assert result["stop"][0] == pytest.approx(body.BODY_RADIUS)
