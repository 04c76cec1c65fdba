"""Build events: the catalog announces build switches and failures; subscribers (the hub) hear them.

    events = BuildEvents()
    events.connect(receiver)          # async receiver(notice: BuildNotice) -> None
    await events.send(BuildNotice(...))

The app factory creates one `BuildEvents` per app (`BUILD_EVENTS`) and
connects the subsystems that care, so the catalog never needs to know who
listens.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildNotice:
    """A hall's chunks were replaced by a new build, or a build failed."""

    hall_id: str | None
    """The hall that changed; None for every hall (a failed build, a rebuild in progress)."""
    changed: tuple[str, ...] = ()
    """Ids of the chunks whose objects changed."""
    error: str | None = None
    """The build's error for authors, when it failed."""
    share: bool = False
    """Also tell other workers: on for what only this worker knows (its own watcher's builds), off for
    build switches, which every worker notices by itself."""


Receiver = Callable[[BuildNotice], Awaitable[None]]


class BuildEvents:
    """A typed signal: receivers are called in order; one that fails is logged and does not stop the others."""

    def __init__(self) -> None:
        self._receivers: list[Receiver] = []

    def connect(self, receiver: Receiver) -> None:
        self._receivers.append(receiver)

    async def send(self, notice: BuildNotice) -> None:
        for receiver in self._receivers:
            try:
                await receiver(notice)
            except Exception:
                log.exception("build event receiver %r failed for hall %s", receiver, notice.hall_id)


BUILD_EVENTS = web.AppKey("build_events", BuildEvents)
"""This app's build events (set by the app factory)."""
