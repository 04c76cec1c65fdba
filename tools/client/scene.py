"""A hall in the scene graph: chunk models, their collision solids, the theme's light and sky.

The same lights as `tools.preview` (ambient plus a sun from the south-west,
`halls_contract.themes.SUN_HPR`, at the theme's strengths), so client views,
previews and thumbnails agree.
The app loads chunks with Panda3D's asynchronous loader and builds their
collision solids on the main thread; `load_chunk` is the synchronous load
(tests, tools).
"""

from __future__ import annotations

import logging
from pathlib import Path

from panda3d.core import (
    AmbientLight,
    DirectionalLight,
    Filename,
    Loader,
    LoaderOptions,
    NodePath,
)

from halls_contract.manifest import Theme
from halls_contract.themes import SUN_HPR, hex_to_rgb
from tools.client.manifest import HallManifest

log = logging.getLogger(__name__)


class ChunkLoadError(RuntimeError):
    """A verified object is not a readable Panda3D scene."""


def load_chunk(path: Path) -> NodePath:
    """A chunk's scene graph from a `.bam` or `.bam.pz` file, bypassing the model cache."""
    options = LoaderOptions(LoaderOptions.LF_no_cache | LoaderOptions.LF_report_errors)
    node = Loader.getGlobalPtr().loadSync(Filename.fromOsSpecific(str(path)), options)
    if node is None:
        raise ChunkLoadError(f"{Path(path).name}: not a readable Panda3D scene")
    return NodePath(node)


def sky_colour(theme: Theme) -> tuple[float, float, float, float]:
    r, g, b = hex_to_rgb(theme.sky)
    return (r / 255, g / 255, b / 255, 1.0)


class HallScene:
    """One hall under `parent`: `models` are drawn, `solids` are only collided with."""

    def __init__(self, parent: NodePath, manifest: HallManifest) -> None:
        self.manifest = manifest
        self.root = parent.attachNewNode(f"hall:{manifest.id}")
        self.models = self.root.attachNewNode("models")
        self.solids = self.root.attachNewNode("collision")
        self.chunks: dict[str, tuple[NodePath, NodePath | None]] = {}
        self._exhibits: dict[str, NodePath] = {}
        self._add_lights(manifest.theme)

    def _add_lights(self, theme: Theme) -> None:
        ambient_level = float(theme.ambient)
        sun_level = float(theme.sun)
        ambient = AmbientLight("ambient")
        ambient.setColor((ambient_level, ambient_level, ambient_level, 1.0))
        self.models.setLight(self.root.attachNewNode(ambient))
        sun = DirectionalLight("sun")
        sun.setColor((sun_level, sun_level, sun_level, 1.0))
        sun_np = self.root.attachNewNode(sun)
        sun_np.setHpr(*SUN_HPR)
        self.models.setLight(sun_np)

    def attach(self, chunk_id: str, model: NodePath) -> None:
        """Show a chunk (replacing an older copy of it and its solids)."""
        self.detach(chunk_id)
        model.reparentTo(self.models)
        self.chunks[chunk_id] = (model, None)
        for child in model.getChildren():
            self._exhibits[child.getName()] = child

    def attach_solids(self, chunk_id: str, solids: NodePath) -> bool:
        """Make a shown chunk collidable; False (solids dropped) when the chunk is gone."""
        entry = self.chunks.get(chunk_id)
        if entry is None or entry[0].isEmpty():
            solids.removeNode()
            return False
        if entry[1] is not None:
            entry[1].removeNode()
        solids.reparentTo(self.solids)
        self.chunks[chunk_id] = (entry[0], solids)
        return True

    def detach(self, chunk_id: str) -> None:
        old = self.chunks.pop(chunk_id, None)
        if old is not None:
            for child in old[0].getChildren():
                self._exhibits.pop(child.getName(), None)
            for part in old:
                if part is not None:
                    part.removeNode()

    def node(self, name: str) -> NodePath | None:
        """A chunk's top-level scene node by its full name (names hold '/', so no `find`)."""
        return self._exhibits.get(name)

    @property
    def loaded(self) -> int:
        return len(self.chunks)

    def destroy(self) -> None:
        self.root.removeNode()
        self.chunks.clear()
        self._exhibits.clear()
