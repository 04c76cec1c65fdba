"""Headset mode (`--vr`): optional, through `panda3d-openvr` and a running OpenVR runtime.

    pip install panda3d-openvr        # brings `openvr` (pyopenvr); start SteamVR first

`check_vr()` runs before any window opens and raises `VrUnavailable` with a
message saying what is missing (the command prints it and exits with 2, no
traceback).  `VrSession` then renders both eyes to the headset with the
tracking space fixed to the walker's body, so walking and teleports carry
the member's room-scale space along.  Controllers: the trigger casts a ray
from the controller; an exhibit under it opens its panel, a floor under it is
a teleport target.  Kept thin on purpose: none of this can run in CI (no
headset), so it only wires `p3dopenvr` to the walker and the app's picking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from panda3d.core import NodePath

log = logging.getLogger(__name__)

INSTALL_HINT = "install it with 'pip install panda3d-openvr' and start SteamVR (or another OpenVR runtime)"


class VrUnavailable(RuntimeError):
    """Headset mode cannot start here."""


def check_vr() -> None:
    """Raise `VrUnavailable` unless `p3dopenvr`, `openvr`, a runtime and a headset are present."""
    try:
        # p3dopenvr first (unsorted, I001): when both are missing, the message names the package to install
        import p3dopenvr  # noqa: F401, I001 - loaded here only to learn that it is installed
        import openvr
    except ImportError as missing:
        raise VrUnavailable(
            f"--vr needs the optional package panda3d-openvr (module {missing.name!r} is missing); {INSTALL_HINT}"
        ) from None

    try:
        runtime = openvr.isRuntimeInstalled()
        headset = openvr.isHmdPresent()
    except Exception as exc:  # noqa: BLE001 - pyopenvr raises its own error types for a missing library
        raise VrUnavailable(f"--vr: the OpenVR library could not be used ({exc}); {INSTALL_HINT}") from None
    if not runtime:
        raise VrUnavailable(f"--vr: no OpenVR runtime is installed; {INSTALL_HINT}")
    if not headset:
        raise VrUnavailable("--vr: no headset is connected (connect it and start SteamVR first)")


class VrSession:
    """Both eyes to the headset; controller trigger = pick an exhibit or teleport."""

    def __init__(self, body, pick: Callable, teleport: Callable) -> None:
        """`pick(origin, direction) -> handled` and `teleport(origin, direction)` take world vectors."""
        import openvr
        from p3dopenvr.p3dopenvr import P3DOpenVR

        session = self

        class _Runtime(P3DOpenVR):
            def process_vr_event(self, event) -> None:  # called by p3dopenvr each frame
                if (
                    event.eventType == openvr.VREvent_ButtonPress
                    and event.data.controller.button == openvr.k_EButton_SteamVR_Trigger
                ):
                    session._trigger(event.trackedDeviceIndex)

            def new_tracked_device(self, device_index, device_anchor) -> None:
                session.anchors[device_index] = device_anchor

        self.openvr = openvr
        self.anchors: dict[int, NodePath] = {}
        self.pick = pick
        self.teleport = teleport
        try:
            self.runtime = _Runtime()
            self.runtime.init(near=0.05, far=2000.0, root=body, srgb=False)
        except Exception as exc:  # noqa: BLE001 - the runtime's own errors, reported plainly
            raise VrUnavailable(f"--vr: OpenVR could not start ({exc})") from None
        log.info("vr: rendering to the headset")

    def _trigger(self, device_index: int) -> None:
        anchor = self.anchors.get(device_index)
        if anchor is None:
            return
        render = anchor.getTop()
        origin = anchor.getPos(render)
        # p3dopenvr converts OpenVR's Y-up poses to Panda3D's Z-up: a controller points along its +Y.
        direction = render.getRelativeVector(anchor, (0, 1, 0))
        if not self.pick(origin, direction):
            self.teleport(origin, direction)
