"""`halls lrs-user`: Basic-auth credentials of the embedded LRS.

    halls lrs-user add NAME [--key KEY] [--secret-stdin] [--scope all ...] [--json]
    halls lrs-user list [--json]
    halls lrs-user remove KEY

`add` prints the key and a generated secret once (only a salted hash is
kept); `--secret-stdin` reads a chosen secret instead.  Scopes are the
xAPI OAuth scope names (default `all`); `statements/read/mine` limits
reads to statements sent with the same credentials.  A running server
sees changes within two seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import sqlite3
import sys
from pathlib import Path

from server.lrs.service import DB_NAME, SCOPES
from server.lrs.store import LrsStore

log = logging.getLogger("halls.lrs")
_KEY = re.compile(r"[A-Za-z0-9._~-]{1,64}\Z")


def add_lrs_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands add, list and remove under `halls lrs-user`."""
    parser.add_argument("--root", type=Path, default=None, help="project folder (default: .)")
    parser.add_argument("--config", type=Path, default=None, help="config file, TOML or YAML (or $HALLS_CONFIG)")
    sub = parser.add_subparsers(dest="lrs_action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create credentials and print the secret once")
    add.add_argument("name", help="who uses them (shown as the statements' authority)")
    add.add_argument("--key", help="the Basic-auth user name (default: generated)")
    add.add_argument("--secret-stdin", action="store_true", help="read the secret from standard input")
    add.add_argument("--scope", action="append", choices=SCOPES, help="xAPI scope, repeatable (default: all)")
    add.add_argument("--json", action="store_true", help="print JSON")
    listing = sub.add_parser("list", help="show keys, names and scopes (never secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = sub.add_parser("remove", help="revoke credentials")
    remove.add_argument("key", help="the key to revoke")


def lrs_command(args) -> int:
    """Run `halls lrs-user ACTION`; 0 on success, 1 on a refused action, 2 on bad configuration."""
    try:
        path = _db_path(args)
    except ValueError as error:
        log.error("%s", error)
        return 2
    store = LrsStore(path).open()
    try:
        return {"add": _add, "list": _list, "remove": _remove}[args.lrs_action](store, args)
    finally:
        store.close()


def _add(store: LrsStore, args) -> int:
    key = args.key or "lrs-" + secrets.token_hex(6)
    if not _KEY.match(key):
        log.error("key %r: use 1-64 letters, digits, '.', '_', '~' or '-'", key)
        return 1
    if args.secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
        if len(secret) < 12:
            log.error("the secret must have at least 12 characters")
            return 1
    else:
        secret = secrets.token_urlsafe(24)
    scopes = tuple(args.scope or ["all"])
    try:
        store.add_credential(key, secret, args.name, scopes)
    except sqlite3.IntegrityError:
        log.error("key %r already exists (remove it first)", key)
        return 1
    if args.json:
        print(json.dumps({"key": key, "secret": secret, "name": args.name, "scopes": list(scopes)}))
    else:
        print(f"key:    {key}\nsecret: {secret}\nscopes: {' '.join(scopes)}\n(the secret is not shown again)")
    return 0


def _list(store: LrsStore, args) -> int:
    rows = [{"key": c.key, "name": c.name, "scopes": list(c.scopes), "created": c.created} for c in store.credentials()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for row in rows:
            print(f"{row['key']:<24} {' '.join(row['scopes']):<36} {row['created']}  {row['name']}")
        if not rows:
            print("no LRS credentials")
    return 0


def _remove(store: LrsStore, args) -> int:
    if not store.remove_credential(args.key):
        log.error("no credentials with key %r", args.key)
        return 1
    log.info("removed %s", args.key)
    return 0


def _db_path(args) -> Path:
    from server.config import ConfigError, load_config

    try:
        config = load_config(file=args.config, env=os.environ, flags={"root": args.root})
    except ConfigError as error:
        raise ValueError(str(error)) from None
    return config.var_path / DB_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="halls lrs-user", description=__doc__.splitlines()[0])
    add_lrs_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return lrs_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
