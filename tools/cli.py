"""The `halls` command line: the compiler's commands here, the others loaded from their modules."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("halls")


def _serve_command():
    from server import cli

    return cli.add_serve_arguments, cli.serve_command


def _nginx_command():
    from server import cli

    return cli.add_nginx_arguments, cli.nginx_command


def _cert_command():
    from server.web import tls

    return tls.add_cert_arguments, tls.cert_command


def _client_command():
    from tools.client import command

    return command.add_client_arguments, command.client_command


def _new_command():
    from tools import scaffold

    return scaffold.add_new_arguments, scaffold.new_command


def _report_command():
    from server.learning import progress

    return progress.add_report_arguments, progress.report_command


def _lrs_user_command():
    from server.lrs import cli

    return cli.add_lrs_arguments, cli.lrs_command


EXTERNAL_COMMANDS = {
    # name: (help, a function importing its module and giving (add its arguments, run it))
    "serve": ("serve the built halls to browsers and headsets", _serve_command),
    "nginx-config": ("print an nginx config that serves /objects/ and proxies the rest", _nginx_command),
    "cert": ("make a self-signed TLS certificate for a host name or IP (WebXR needs HTTPS)", _cert_command),
    "client": ("walk a hall in the Panda3D client (desktop, headset or offscreen)", _client_command),
    "new": ("scaffold a hall, an exhibit or a checkpoint in YAML", _new_command),
    "report": ("trainer report of members' quiz progress (table or CSV)", _report_command),
    "lrs-user": ("manage Basic-auth credentials of the embedded learning-record store", _lrs_user_command),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser(selected=_selected_command(argv))
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return args.command(args)


def _selected_command(argv: list[str]) -> str | None:
    """The subcommand named in argv, so only its module is imported (some pull in aiohttp or Panda3D)."""
    return next((word for word in argv if not word.startswith("-")), None)


def _parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with `selected`, only that external command's arguments are loaded."""
    parser = argparse.ArgumentParser(prog="halls", description="Build, check and serve Tunlan exhibition halls.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    sub = parser.add_subparsers(metavar="COMMAND")

    build = sub.add_parser("build", help="compile halls/*.yaml into build/ (glTF, Panda3D scenes, manifests)")
    _common(build)
    build.add_argument("--out", type=Path, help="output folder (default: ROOT/build)")
    build.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    build.add_argument("--no-meshopt", action="store_true", help="skip the meshopt-compressed browser variants")
    build.add_argument(
        "--no-thumbnails", action="store_true", help="skip rendering catalog pictures (keep the last ones)"
    )
    build.set_defaults(command=cmd_build)

    check = sub.add_parser("check", help="report every error in the hall files without building")
    _common(check)
    check.set_defaults(command=cmd_check)

    schema = sub.add_parser("schema", help="write the JSON Schema of hall files (for editors)")
    schema.add_argument("--out", type=Path, help="file to write (default: print)")
    schema.set_defaults(command=cmd_schema)

    preview = sub.add_parser("preview", help="render a built hall offscreen to a PNG")
    preview.add_argument("hall", help="hall id")
    preview.add_argument("--out", type=Path, required=True, help="PNG file to write")
    preview.add_argument("--root", type=Path, default=Path("."), help="project folder (default: .)")
    preview.add_argument("--room", help="room to look at (default: the spawn room)")
    preview.add_argument("--size", default="960x600", help="image size WxH (default 960x600)")
    preview.set_defaults(command=cmd_preview)

    for name, (help_text, load) in EXTERNAL_COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        if selected is None or selected == name:  # import a command's module only when it runs (or for --help)
            add_arguments, run = load()
            add_arguments(command)
            command.set_defaults(command=run)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="project folder with halls/ and assets/ (default: .)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report for machines")


def cmd_build(args) -> int:
    from scenes.build import BuildOptions, build
    from scenes.diagnostics import AuthorErrors

    thumbnails: Callable[[dict, Path, Path], Path] | None = None
    if not args.no_thumbnails:
        from tools.preview_hall import render_thumbnail

        thumbnails = render_thumbnail
    options = BuildOptions(
        root=args.root,
        out=args.out,
        jobs=args.jobs,
        meshopt=not args.no_meshopt,
        progress=None if args.json else _progress_bar(),
        thumbnails=thumbnails,
    )
    try:
        result = build(options)
    except AuthorErrors as errors:
        return _report_errors(errors.diagnostics, args.json)
    if sys.stderr.isatty() and not args.json:
        sys.stderr.write("\n")
    summary = {
        "ok": True,
        "build": result.build_id,
        "halls": result.halls,
        "chunks_built": result.chunks_built,
        "chunks_cached": result.chunks_cached,
        "published": result.changed,
        "seconds": round(result.seconds, 3),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        state = "published" if result.changed else "unchanged"
        log.info(
            "built %d halls (%d chunks compiled, %d from cache) in %.2f s; build %s %s",
            len(result.halls),
            result.chunks_built,
            result.chunks_cached,
            result.seconds,
            result.build_id,
            state,
        )
    return 0


def cmd_check(args) -> int:
    from scenes.build import BuildOptions, check
    from scenes.diagnostics import AuthorErrors

    try:
        compiled = check(BuildOptions(root=args.root))
    except AuthorErrors as errors:
        return _report_errors(errors.diagnostics, args.json)
    if args.json:
        print(json.dumps({"ok": True, "halls": [c.hall.id for c in compiled], "diagnostics": []}))
    else:
        print(f"ok: {len(compiled)} halls, no errors")
    return 0


def cmd_schema(args) -> int:
    from scenes.model import hall_json_schema

    text = json.dumps(hall_json_schema(), ensure_ascii=False, indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        log.info("wrote %s", args.out)
    else:
        sys.stdout.write(text)
    return 0


def cmd_preview(args) -> int:
    from tools.preview_hall import preview_hall

    width, height = (int(v) for v in args.size.lower().split("x"))
    try:
        path = preview_hall(args.root, args.hall, args.out, room=args.room, size=(width, height))
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as error:
        print(f"halls preview: {error}", file=sys.stderr)
        return 1
    log.info("wrote %s", path)
    return 0


def _report_errors(diagnostics, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"ok": False, "diagnostics": [d.to_json() for d in diagnostics]}, ensure_ascii=False))
    else:
        for diagnostic in diagnostics:
            print(diagnostic, file=sys.stderr)
        count = len(diagnostics)
        print(f"{count} error{'s' if count != 1 else ''}; nothing was published", file=sys.stderr)
    return 1


def _progress_bar():
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, name: str) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name[:40]:<40}")
        sys.stderr.flush()

    return show


if __name__ == "__main__":
    sys.exit(main())
