"""Drive a real `HallClient` offscreen through a visit, for tests (run in a child process).

    python tests/client/drive_client.py SERVER_URL CACHE_DIR OUT.json

Opens hall alpha, waits for it, walks up to the exhibit panel, opens the
checkpoint quiz, answers it with the keyboard handlers, waits for the
grade, then walks west through the doorway into hall beta.  Writes what it
saw as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(url: str, cache: str, out: str) -> int:
    from panda3d.core import loadPrcFileData

    from tools.client.offscreen import offscreen_prc

    loadPrcFileData("drive", offscreen_prc("p3tinydisplay", (320, 200)))
    from direct.showbase.ShowBase import ShowBase

    from tools.client.app import ClientOptions, HallClient
    from tools.client.fetch import HttpSource, ObjectCache, ObjectStore
    from tools.client.walk import WalkInput

    base = ShowBase(windowType="offscreen")
    client = HallClient(
        base,
        ObjectStore(ObjectCache(cache), HttpSource(url)),
        ClientOptions(hall="alpha", name="驾驶员", member_id="driver-1", presence=False),
        interactive=False,
    )
    seen: dict = {}

    def step_until(condition, seconds: float = 20.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            base.taskMgr.step()
            if condition():
                return True
        return False

    client.open_hall("alpha")
    step_until(lambda: client.settled)
    client.walker.place((0.0, 2.5, 0.0), 0.0)  # in front of the intro panel
    base.taskMgr.step()
    seen["panel"] = client.panel.title.getText() if client.panel.visible else None
    client._escape()  # Esc closes the panel, and it stays closed while the member stands there
    base.taskMgr.step()
    base.taskMgr.step()
    seen["panel_after_escape"] = client.panel.visible
    seen["running_after_escape"] = client.exit_code is None

    client.walker.place((0.0, -2.0, 0.0), 0.0)  # on the checkpoint
    base.taskMgr.step()
    seen["hint"] = client.hud.hint.getText()
    client._open_nearest_quiz()
    dialog = client.quiz_dialog
    assert dialog is not None, "the member stands on the checkpoint, so Q opens its quiz"
    seen["first_question"] = dialog.prompt.getText()
    dialog.choose_index(1)  # q1: 对 (true)
    dialog.go(1)
    dialog.choose_index(2)  # q2: B
    dialog.submit()
    step_until(lambda: not dialog.busy)
    seen["quiz"] = dialog.message.getText()
    dialog.close()

    client.walker.place((-3.0, 0.0, 0.0), 90.0)  # facing west, toward hall beta's doorway

    def walk_west() -> bool:
        client.walker.update(1 / 30, WalkInput(forward=1))
        assert client.manifest is not None, "hall alpha is open"
        return client.manifest.id == "beta"

    step_until(walk_west, 10)
    step_until(lambda: client.settled)
    manifest, scene = client.manifest, client.scene
    assert manifest is not None and scene is not None, "a hall is open"
    room = manifest.room_at(client.walker.position)
    seen["hall"] = manifest.id
    seen["room"] = room.id if room is not None else None
    seen["loaded"] = scene.loaded
    seen["messages"] = client.messages
    Path(out).write_text(json.dumps(seen, ensure_ascii=False), encoding="utf-8")
    client.close()
    base.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
