"""Stream a hall on a background thread: manifest, then chunks in order, as events.

`HallStream(store, hall_id, start_room)` runs in its own thread and puts
events on `events` (a `queue.Queue`), which the app drains each frame:

    ManifestReady(manifest)        the hall can be set up (spawn, rooms, exhibits)
    ChunkFetched(chunk, path, ...) a chunk's verified bytes are on disk, ready to load
    ChunkFailed(chunk, message)    this chunk is skipped (corrupt, truncated, missing)
    StreamEnded(fetched, total, message)   last event; message is None when all arrived

A server that goes away ends the stream early with a message; whatever
arrived before stays usable.  No Panda3D here: scene objects are made on the
main thread (Panda3D objects built on a worker thread while frames render
crashed the client now and then).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tools.client.fetch import FetchError, ObjectStore, ServerUnreachable, load_manifest
from tools.client.manifest import Chunk, HallManifest, ManifestError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManifestReady:
    manifest: HallManifest


@dataclass(frozen=True)
class ManifestFailed:
    hall_id: str
    message: str


@dataclass(frozen=True)
class ChunkFetched:
    chunk: Chunk
    path: Path
    seconds: float
    """Fetch (or cache look-up) and hash check."""


@dataclass(frozen=True)
class ChunkFailed:
    chunk: Chunk
    message: str


@dataclass(frozen=True)
class StreamEnded:
    hall_id: str
    fetched: int
    total: int
    message: str | None


class HallStream:
    """One hall's manifest and chunks (all, or `only_ids` after a rebuild), fetched and loaded on a daemon thread."""

    def __init__(
        self, store: ObjectStore, hall_id: str, start_room: str | None = None, only_ids: set[str] | None = None
    ) -> None:
        self.store = store
        self.hall_id = hall_id
        self.start_room = start_room
        self.only_ids = only_ids
        self.events: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{hall_id}", daemon=True)

    def start(self) -> HallStream:
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop after the chunk in hand; no further events are worth reading."""
        self._cancel.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            manifest = load_manifest(self.store, self.hall_id)
        except (ManifestError, FetchError, OSError, ValueError) as exc:
            self.events.put(ManifestFailed(self.hall_id, str(exc)))
            return
        self.events.put(ManifestReady(manifest))
        room = self.start_room if self.start_room in {r.id for r in manifest.rooms} else manifest.spawn.room
        chunks = manifest.chunks_from(room)
        if self.only_ids is not None:
            chunks = tuple(c for c in chunks if c.id in self.only_ids)
        fetched = 0
        for chunk in chunks:
            if self._cancel.is_set():
                return
            started = time.perf_counter()
            try:
                path = self.store.fetch(chunk.bam)
            except ServerUnreachable as exc:
                message = (
                    f"the server went away after {fetched} of {len(chunks)} chunks of hall "
                    f"{manifest.id!r} ({exc}); keeping what was loaded"
                )
                self.events.put(ChunkFailed(chunk, str(exc)))
                self.events.put(StreamEnded(manifest.id, fetched, len(chunks), message))
                return
            except (FetchError, OSError) as exc:
                self.events.put(ChunkFailed(chunk, f"chunk {chunk.id!r} skipped: {exc}"))
                continue
            except Exception as exc:  # a bad chunk must never take the client down
                log.exception("chunk %s", chunk.id)
                self.events.put(ChunkFailed(chunk, f"chunk {chunk.id!r} skipped: {type(exc).__name__}: {exc}"))
                continue
            fetched += 1
            self.events.put(ChunkFetched(chunk, path, time.perf_counter() - started))
        failed = len(chunks) - fetched
        summary = f"{failed} of {len(chunks)} chunks of hall {manifest.id!r} could not be loaded" if failed else None
        self.events.put(StreamEnded(manifest.id, fetched, len(chunks), summary))
