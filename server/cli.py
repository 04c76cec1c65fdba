"""`halls serve` and `halls nginx-config`: arguments and start-up of the hall server.

    halls serve [--root .] [--config FILE] [--host H] [--port P] [--watch] [--build-first] [--workers N]
    halls nginx-config [--root .] [--config FILE] [--listen 80] [--server-name NAME] [--full]

`serve` builds first when nothing is published yet (or with `--build-first`
or `--watch`), then serves; with a TLS certificate and key configured it
speaks HTTPS.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import ssl
import sys
from pathlib import Path

from server import logs
from server.config import ConfigError, ServerConfig, load_config

log = logging.getLogger("server")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    _config_arguments(parser)
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (default 8080; 0 = any free port)")
    parser.add_argument(
        "--watch", action="store_true", default=None, help="rebuild when halls/ or assets/ change and tell open clients"
    )
    parser.add_argument(
        "--build-first",
        action="store_true",
        default=None,
        help="run an incremental build before serving (always done when nothing is built)",
    )
    parser.add_argument("--workers", type=int, default=None, help="server processes sharing the port (default 1)")


def add_nginx_arguments(parser: argparse.ArgumentParser) -> None:
    _config_arguments(parser)
    parser.add_argument("--listen", default="80", help="nginx listen value (default 80)")
    parser.add_argument("--server-name", help="nginx server_name (default: the host of base_url, else _)")
    parser.add_argument("--upstream", help="hall server host:port (default: the configured host and port)")
    parser.add_argument("--full", action="store_true", help="print a whole nginx.conf, not the http {} part")


def serve_command(args) -> int:
    """Build if needed, then serve until interrupted."""
    try:
        config = _config(
            args,
            {
                "host": args.host,
                "port": args.port,
                "watch": args.watch,
                "build_first": args.build_first,
                "workers": args.workers,
            },
        )
    except ConfigError as error:
        log.error("%s", error)
        return 2
    logs.configure(config.log_format, logging.getLogger().getEffectiveLevel())
    if not ensure_build(config):
        return 1
    if config.workers > 1:
        return _run_workers(config)
    run_server(config)
    return 0


def nginx_command(args) -> int:
    """Print the nginx configuration for this project."""
    from server.web.nginx import NginxOptions, nginx_config

    try:
        config = _config(args, {})
    except ConfigError as error:
        log.error("%s", error)
        return 2
    options = NginxOptions(listen=args.listen, server_name=args.server_name, upstream=args.upstream, full=args.full)
    sys.stdout.write(nginx_config(config, options))
    return 0


def ensure_build(config: ServerConfig) -> bool:
    """Build when nothing is published, or when asked; False when there is nothing to serve."""
    from scenes.diagnostics import AuthorErrors
    from server.web.watch import build_sources

    published = (config.build_path / "current").exists()
    if published and not (config.build_first or config.watch):
        return True
    if not published:
        log.info("no build at %s; building first (halls build)", config.build_path / "current")
    else:
        log.info("building before serving (incremental)")
    try:
        result = build_sources(config)
    except AuthorErrors as errors:
        for diagnostic in errors.diagnostics:
            print(diagnostic, file=sys.stderr)
        if published or config.watch:
            log.error(
                "build failed; serving %s and waiting for fixes", "the last good build" if published else "no halls"
            )
            return True
        log.error("build failed and nothing was built before; fix the errors above and run again")
        return False
    log.info(
        "build %s ready (%d halls, %d chunks compiled, %d from cache)",
        result.build_id,
        len(result.halls),
        result.chunks_built,
        result.chunks_cached,
    )
    return True


def run_server(config: ServerConfig, reuse_port: bool = False) -> None:
    """Serve `config` in this process until SIGINT or SIGTERM."""
    from aiohttp import web

    from server.app import create_app

    ssl_context = tls_context(config) if config.tls else None
    log.info("serving %s on %s (pid %d)", config.build_path, config.public_url, os.getpid())
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        ssl_context=ssl_context,
        access_log=None,
        shutdown_timeout=config.shutdown_timeout,
        reuse_port=reuse_port or None,
        print=None,
    )


def tls_context(config: ServerConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(config.tls_cert), str(config.tls_key))
    return context


def main(argv: list[str] | None = None) -> int:
    """`python -m server.cli [serve options]` (the benchmark starts the server this way)."""
    parser = argparse.ArgumentParser(prog="python -m server.cli", description="Serve the built halls.")
    parser.add_argument("-v", "--verbose", action="store_true")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return serve_command(args)


# --- private helpers -------------------------------------------------------


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None, help="project folder (default: .)")
    parser.add_argument("--config", type=Path, default=None, help="config file, TOML or YAML (or $HALLS_CONFIG)")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        type=_setting,
        metavar="KEY=VALUE",
        help="set any config key (e.g. --set hub_tick_hz=20); repeatable; wins over file and env",
    )


def _setting(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _config(args, flags: dict) -> ServerConfig:
    root = args.root if args.root is not None else None
    return load_config(file=args.config, env=os.environ, flags={"root": root, **dict(args.settings), **flags})


def _run_workers(config: ServerConfig) -> int:
    if config.port == 0:
        log.error("workers: several workers need a fixed port, not 0")
        return 2
    if not config.redis_url:
        log.warning(
            "%d workers without redis_url: members on different workers will not see each other", config.workers
        )
    context = multiprocessing.get_context("spawn")
    level = logging.getLogger().getEffectiveLevel()
    workers = [
        context.Process(target=_worker, args=(config, level), name=f"halls-worker-{n}") for n in range(config.workers)
    ]
    for worker in workers:
        worker.start()

    def stop(signum, frame):
        for worker in workers:
            if worker.is_alive():
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.join()
    return max((w.exitcode or 0) for w in workers)


def _worker(config: ServerConfig, level: int) -> None:
    logs.configure(config.log_format, level)
    run_server(config, reuse_port=True)


if __name__ == "__main__":
    sys.exit(main())
