"""The contract between the compiler, the server and both clients: one typed definition of what they exchange.

Modules (stdlib and pydantic only; numpy just for `hub.POSE_DTYPE` / `hub.decode_pose_batch`):

- `manifest`: a hall's manifest and answer keys as models; `parse_manifest`, `dump_manifest`,
  `MANIFEST_VERSION` and the version check clients make.
- `catalog`: the catalog of a build; `parse_catalog`, `dump_catalog`.
- `hub`: the hub's WebSocket protocol: client and server messages, close codes, the binary pose
  record (layout, offsets, pack/unpack).
- `body`: the member's body as every client walks it (radius, eye height, step).
- `themes`: theme defaults, the sun's direction, colour parsing.
- `fonts`: finding a font with Chinese glyphs.
- `schema`: JSON Schemas of the documents and messages (`python -m halls_contract.schema --out DIR`).
- `js`: the browser viewer's constants module (`python -m halls_contract.js`).
"""
