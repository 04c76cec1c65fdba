"""The catalog (`catalog.json`, `GET /api/halls`): every hall of a build, in display order, with its size."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal

from pydantic import ValidationError

from halls_contract.manifest import (
    MANIFEST_VERSION,
    ContractError,
    Manifest,
    ObjectRef,
    Record,
    Text,
    decode_json,
    explain,
)

CATALOG_FORMAT: Final = "tunlan-hall-catalog"
CATALOG_VERSION = MANIFEST_VERSION
"""Catalog and manifests share their version."""


class CatalogError(ContractError):
    """A catalog cannot be used: wrong format, unsupported version, or malformed."""


class CatalogTheme(Record):
    primary: str
    secondary: str


class HallBytes(Record):
    """Bytes of the hall's chunks in each form (0 when a form was not built)."""

    glb: int
    glb_meshopt: int
    bam: int


class CatalogHall(Record):
    """One hall as the catalog lists it."""

    _omit_when_none = ("url",)
    id: str
    title: Text
    intro: Text | None
    order: int
    theme: CatalogTheme
    rooms: int
    exhibits: int
    checkpoints: int
    bytes: HallBytes
    manifest: str
    """The manifest's path in the release (`halls/<id>/manifest.json`)."""
    thumbnail: ObjectRef | None
    url: str | None = None
    """Served catalog only: the manifest's API path."""


class Catalog(Record):
    format: Literal["tunlan-hall-catalog"] = CATALOG_FORMAT
    version: int = CATALOG_VERSION
    build: str | None
    """Build id (null before anything was built)."""
    halls: tuple[CatalogHall, ...]


def catalog_hall(manifest: Manifest) -> CatalogHall:
    """A hall's catalog entry, summarised from its manifest."""
    objects = [dict(chunk.objects) for chunk in manifest.chunks]
    return CatalogHall(
        id=manifest.id,
        title=manifest.title,
        intro=manifest.intro,
        order=manifest.order,
        theme=CatalogTheme(primary=manifest.theme.primary, secondary=manifest.theme.secondary),
        rooms=len(manifest.rooms),
        exhibits=len(manifest.exhibits),
        checkpoints=len(manifest.checkpoints),
        bytes=HallBytes(
            **{
                kind: sum(o[kind].size for o in objects if o[kind] is not None)
                for kind in ("glb", "glb_meshopt", "bam")
            }
        ),
        manifest=f"halls/{manifest.id}/manifest.json",
        thumbnail=manifest.thumbnail,
    )


def catalog_of(manifests: Iterable[Manifest], build: str | None) -> Catalog:
    """The catalog of a build's halls, in display order (`order`, then id)."""
    ordered = sorted(manifests, key=lambda manifest: (manifest.order, manifest.id))
    return Catalog(build=build, halls=tuple(catalog_hall(manifest) for manifest in ordered))


def parse_catalog(data: Mapping | bytes | str) -> Catalog:
    """A catalog (JSON text or decoded) checked and typed; `CatalogError` says what is wrong."""
    value = decode_json(data, CatalogError, "catalog")
    if not isinstance(value, Mapping):
        raise CatalogError("catalog: not a JSON object")
    if value.get("format") != CATALOG_FORMAT:
        raise CatalogError(f"catalog: format {value.get('format')!r} is not {CATALOG_FORMAT!r}")
    if value.get("version") != CATALOG_VERSION:
        raise CatalogError(
            f"catalog: version {value.get('version')!r} is not supported (this reads version {CATALOG_VERSION})"
        )
    try:
        return Catalog.model_validate(value)
    except ValidationError as exc:
        raise CatalogError(f"catalog: malformed ({explain(exc)})") from None


def dump_catalog(catalog: Catalog) -> dict:
    """The catalog as JSON values, keys in file order."""
    return catalog.model_dump(mode="json")
