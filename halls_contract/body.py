"""The member's body, the same in every client: how big it is and where its eyes are.

Metres.  `BODY_RADIUS` is how close a member comes to a wall (the
compiler keeps spawn points and free-standing exhibits `layout.CLEARANCE`,
0.3 m, from walls, so a body this wide always starts clear of them).
"""

from __future__ import annotations

BODY_RADIUS = 0.3
"""Horizontal radius of a member's body: the closest the body's centre comes to a wall."""
EYE_HEIGHT = 1.6
"""Height of the eyes (the camera, the pose sent to the hub) above the feet."""
STEP_UP = 0.45
"""Highest step a member climbs by walking."""
