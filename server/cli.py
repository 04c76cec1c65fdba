"""`halls serve`: command-line arguments and start-up of the hall server."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("."), help="project folder (default: .)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)


def serve_command(args) -> int:
    """Placeholder until the server lands: serve build/ as static files."""
    from aiohttp import web

    app = web.Application()
    app.router.add_static("/", args.root / "build", show_index=True)
    web.run_app(app, host=args.host, port=args.port)
    return 0
