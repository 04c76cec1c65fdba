"""`halls nginx-config`: an nginx configuration for production.

nginx serves `/objects/` straight from `build/objects/` with the headers the
server sends (strong ETag = hash, immutable caching, content types, 304 on
If-None-Match, Range with If-Range) and proxies everything else, WebSocket
upgrades included, to the hall server.  By default it prints the part that
goes in nginx's `http {}` block (`/etc/nginx/conf.d/halls.conf`); `--full`
prints a whole `nginx.conf` that runs without root (used by tests and the
benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from server.config import ServerConfig
from server.web.objects import CACHE_CONTROL, CONTENT_TYPES, OBJECT_NAME


@dataclass(frozen=True)
class NginxOptions:
    """How the printed nginx config listens and where it keeps its files."""

    listen: str = "80"
    """nginx `listen` value (`80`, `127.0.0.1:8081`, `443 ssl`)."""
    server_name: str | None = None
    """nginx `server_name` (default: the host of the config's `base_url`, else `_`)."""
    upstream: str | None = None
    """Hall server address `host:port` (default: the config's host and port)."""
    full: bool = False
    """A complete nginx.conf rather than the `http {}` part."""
    prefix: Path | None = None
    """With `full`: folder for nginx's pid, logs and temp files (default `<var_dir>/nginx`)."""
    foreground: bool = False
    """With `full`: one process, not daemonised (tests, benchmarks)."""
    access_log: bool = True


def nginx_config(config: ServerConfig, options: NginxOptions = NginxOptions()) -> str:
    """The nginx configuration text for serving `config`'s build."""
    build = config.build_path.resolve()
    if options.upstream is None and config.port == 0:
        raise ValueError("nginx-config: the server's port is 0 (any free port); give the upstream host:port")
    upstream = options.upstream or f"{config.host}:{config.port}"
    scheme = "https" if config.tls else "http"
    server_name = options.server_name or (urlsplit(config.base_url).hostname if config.base_url else None) or "_"
    extensions = OBJECT_NAME.pattern.split("(")[1].rstrip(")")
    by_suffix = {ext.rsplit(".", 1)[-1]: mime for ext, mime in CONTENT_TYPES.items()}  # nginx reads the last one
    types = "\n".join(f"            {mime} {ext};" for ext, mime in by_suffix.items())
    part = f"""\
# Tunlan Halls: objects from disk, everything else from the hall server.
upstream tunlan_halls {{
    server {upstream};
    keepalive 32;
}}

map $http_upgrade $tunlan_connection {{
    default upgrade;
    ''      '';
}}

# 1 when If-None-Match names the object's hash (strong or weak, in a list, or *).
map "$object_hash $http_if_none_match" $tunlan_not_modified {{
    default 0;
    "~^([0-9a-f]{{64}}) (.*,\\s*)?(W/)?\\"\\1\\"" 1;
    "~^[0-9a-f]{{64}} \\*$" 1;
}}

server {{
    listen {options.listen};
    server_name {server_name};
    client_max_body_size {config.max_body_bytes};

    location ~ "^/objects/(?<object_hash>[0-9a-f]{{64}})\\.({extensions})$" {{
        root {_quote(str(build))};
        disable_symlinks on from=$document_root;
        etag off;
        if_modified_since off;
        gzip off;
        types {{
{types}
        }}
        default_type application/octet-stream;
        add_header ETag "\\"$object_hash\\"";
        add_header Cache-Control "{CACHE_CONTROL}";
        add_header Last-Modified "";
        if ($tunlan_not_modified) {{
            return 304;
        }}
    }}

    location /objects/ {{
        return 404;
    }}

    location / {{
        proxy_pass {scheme}://tunlan_halls;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $tunlan_connection;
        proxy_read_timeout 1h;
    }}
}}
"""
    if not options.full:
        return part
    return _full(part, options.prefix or config.var_path / "nginx", options)


def _full(part: str, prefix: Path, options: NginxOptions) -> str:
    prefix = prefix.resolve()
    q = lambda name: _quote(str(prefix / name))  # noqa: E731
    head = "daemon off;\nmaster_process off;\n" if options.foreground else "worker_processes auto;\n"
    access = f"access_log {q('access.log')};" if options.access_log else "access_log off;"
    body = "\n".join("    " + line if line else "" for line in part.splitlines())
    return f"""\
{head}pid {q("nginx.pid")};
error_log {q("error.log")} warn;

events {{
    worker_connections 1024;
}}

http {{
    {access}
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    client_body_temp_path {q("client_body")};
    proxy_temp_path {q("proxy")};
    fastcgi_temp_path {q("fastcgi")};
    uwsgi_temp_path {q("uwsgi")};
    scgi_temp_path {q("scgi")};
    default_type application/octet-stream;

{body}
}}
"""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
