"""Server configuration: defaults < a TOML/YAML file < `HALLS_*` environment variables < flags.

`ServerConfig` holds the server's own keys and one typed section per
subsystem (`hub`, `auth`, `report`, `forwarding`, `lrs`); every field has a
default and a docstring, here and nowhere else, and `config_reference()`
reads those docstrings, so the README can be checked against them.

Keys are flat: a section's field is the key `<prefix><field>` (`hub_tick_hz`
is `config.hub.tick_hz`, `lrs_url` is `config.forwarding.url`, `trainers`
is `config.auth.trainers`).  The file is flat too (`port = 8080`,
`hub_tick_hz = 10`); a table stands for its prefix (`[hub] tick_hz = 10`,
`[lrs] url = "..."`, `[session] ttl = 3600`), and a `[server]` table holds
the whole file.  Relative paths in the file, in the environment and in
flags are taken from the project folder (`root`).  The environment variable
for a key is `HALLS_` + the key in capitals (`HALLS_PORT=9000`,
`HALLS_HUB_TICK_HZ=20`); the config file itself can be named by
`HALLS_CONFIG`.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from server.logs import FORMATS as LOG_FORMATS

ENV_PREFIX = "HALLS_"
CONFIG_ENV = "HALLS_CONFIG"
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
PREFIX = "prefix"
"""Field metadata of a `ServerConfig` section: what its fields' keys start with."""


class ConfigError(ValueError):
    """A bad key or value, naming where it came from."""


def config_list(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """A list given as a list or a comma-separated string -> trimmed, non-empty items."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = re.split(r"[,，\n]", value)
    return tuple(str(item).strip() for item in value if str(item).strip())


# --- the sections ----------------------------------------------------------------


@dataclass(frozen=True)
class HubSettings:
    """The WebSocket hub (`server.hub`): presence ticks, limits per client, Redis keys.  Keys `hub_*`."""

    tick_hz: float = 10.0
    """Presence ticks per second: each member receives one batched pose message per tick."""
    neighbours: int = 32
    """Most other members whose poses one member receives per tick (nearest first, K)."""
    queue_limit: int = 32
    """Messages queued for one WebSocket client (beyond its socket buffers) before it is dropped as a slow consumer."""
    max_message_bytes: int = 4096
    """Largest WebSocket message a client may send (closed with 1009 beyond)."""
    max_rate_hz: float = 20.0
    """Poses per second one WebSocket client may send (beyond the burst, closed with 1008)."""
    control_rate_hz: float = 5.0
    """Other hub messages (tours, pings) per second one client may send."""
    rate_burst: float = 5.0
    """Seconds' worth of messages (at `hub_max_rate_hz` and `hub_control_rate_hz`) one client may send at once,
    e.g. those queued while the server was busy."""
    heartbeat: float = 20.0
    """Seconds of WebSocket silence before a ping; no pong within half that closes the socket."""
    send_buffer: int = 65536
    """Bytes buffered per WebSocket before the client counts as slow."""
    join_timeout: float = 10.0
    """Seconds a new WebSocket has to send `join`."""
    redis_prefix: str = "tunlan:hub"
    """Prefix of the hub's Redis keys and channels."""


@dataclass(frozen=True)
class AuthSettings:
    """Sign-in, roles and session tokens (`server.learning.auth`; the hub's `trainer_key`).  Keys unprefixed."""

    trainer_key: str | None = None
    """Secret that grants the trainer role (guided tours) until accounts arrive; none = nobody."""
    session_secret: str | None = None
    """HMAC-SHA256 key signing session tokens; none = one generated once into `<var>/session.key`."""
    session_ttl: float = 43200.0
    """Seconds a session token stays valid."""
    trainers: tuple[str, ...] = ()
    """Member ids with the trainer role (tours, reports), comma-separated (or a list)."""
    admins: tuple[str, ...] = ()
    """Member ids with the administrator role (dead letters, everything trainers may), comma-separated (or a list)."""
    branches: tuple[str, ...] = ()
    """The Party branches (支部) members choose from, comma-separated (or a list); empty accepts any."""
    enrolment: str = "open"
    """Who may sign in: `open` (anyone), `code` (with `enrolment_code`) or `list` (members in `enrolment_tokens`)."""
    enrolment_code: str | None = None
    """The shared enrolment code for `enrolment = code`."""
    enrolment_tokens: Path | None = None
    """File of `member_id code` lines (a code may be `sha256:<hex>`); trainers and admins sign in with theirs."""
    signin_failures: int = 10
    """Refused sign-ins (wrong enrolment codes) one client address may make per `signin_window`; then 429."""
    signin_window: float = 600.0
    """Seconds a refused sign-in counts against its client address."""


@dataclass(frozen=True)
class ReportSettings:
    """Trainer reports (`server.learning.progress`).  Keys `report_*`."""

    utc_offset: float = 8.0
    """Hours east of UTC used for the dates of trainer reports."""

    @property
    def zone(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset))


@dataclass(frozen=True)
class ForwardingSettings:
    """Forwarding the outbox to a learning-record store (`server.learning.forwarder`).  Keys `lrs_*`."""

    url: str | None = None
    """An external LRS's endpoint base (statements go to `<lrs_url>/statements`);
    none = the embedded LRS at `/xapi/`."""
    key: str | None = None
    """Basic-auth user for `lrs_url` (for the embedded LRS: its own forwarder credential)."""
    secret: str | None = None
    """Basic-auth password for `lrs_url`."""
    batch_size: int = 100
    """Statements per POST when forwarding the outbox."""
    timeout: float = 10.0
    """Seconds one forwarding request may take."""
    backoff_base: float = 1.0
    """First retry delay after a failed forward, doubled each time with jitter."""
    backoff_max: float = 300.0
    """Longest retry delay (a longer `Retry-After` is honoured up to an hour)."""
    poll_interval: float = 1.0
    """Seconds between outbox checks when nothing woke the forwarder (statements queued by other workers)."""


@dataclass(frozen=True)
class LrsSettings:
    """The embedded learning-record store (`server.lrs`).  Keys `lrs_*`."""

    embedded: bool = True
    """Mount the embedded learning-record store at `/xapi/` (the default forwarding target)."""
    page_size: int = 100
    """Most statements one `GET /xapi/statements` page returns (also what `limit=0` means)."""
    max_body_bytes: int = 16 * 1024 * 1024
    """Largest request the embedded LRS reads (batches, attachments, documents); 413 beyond."""
    synchronous: str = "FULL"
    """SQLite sync mode of the embedded LRS: FULL (an acknowledged statement is on disk) or NORMAL (faster;
    the last commits can be lost on power failure, not on a crash)."""


def _section(settings: type, prefix: str) -> Any:
    return field(default_factory=settings, metadata={PREFIX: prefix})


@dataclass(frozen=True)
class ServerConfig:
    """How `halls serve` runs.  Every field is a config key or a section of keys."""

    root: Path = Path(".")
    """Project folder holding `halls/`, `assets/` and `build/` (default `.`)."""
    build_dir: Path | None = None
    """Folder `halls build` publishes to (default `<root>/build`); only `objects/` and `current` are served."""
    host: str = "127.0.0.1"
    """Address to listen on (`0.0.0.0` for every interface)."""
    port: int = 8080
    """TCP port to listen on (0 picks a free port)."""
    base_url: str | None = None
    """Public URL of the server as members reach it (default `http://HOST:PORT`), for printed links and nginx."""
    objects_url: str = "/objects/"
    """URL prefix clients fetch objects from: `/objects/` here, or a CDN's URL ending in `/`."""
    tls_cert: Path | None = None
    """PEM certificate chain; with `tls_key`, the server speaks HTTPS (WebXR needs a secure origin)."""
    tls_key: Path | None = None
    """PEM private key for `tls_cert`."""
    var_dir: Path | None = None
    """Folder for the server's own data: SQLite databases, outbox (default `<root>/var`)."""
    web_dir: Path | None = None
    """Browser viewer files served at `/` (default `server/web/static/` beside this module, if it exists)."""
    redis_url: str | None = None
    """Redis URL (`redis://host:6379/0`) for presence and tours across workers; none = in-process hub."""
    workers: int = 1
    """Server processes sharing the port (SO_REUSEPORT); more than one needs `redis_url` for the hub."""
    watch: bool = False
    """Rebuild when `halls/` or `assets/` change and tell open clients (authors' mode)."""
    build_first: bool = False
    """Run an (incremental) build before serving; a missing `build/current` is always built first."""
    meshopt: bool = True
    """Builds started by the server also write meshopt-compressed `.glb` variants (needs gltfpack)."""
    watch_interval: float = 0.3
    """Seconds between scans of `halls/` and `assets/` in watch mode."""
    reload_interval: float = 0.5
    """Seconds between checks of `build/current` for a build published by another process."""
    max_body_bytes: int = 64 * 1024
    """Largest HTTP request body accepted (answers to quizzes, statements)."""
    hub: HubSettings = _section(HubSettings, "hub_")
    """The WebSocket hub: keys `hub_*` (or a `[hub]` table)."""
    auth: AuthSettings = _section(AuthSettings, "")
    """Sign-in, roles and session tokens: keys `trainer_key`, `session_*`, `trainers` ... `signin_window`."""
    log_format: str = "text"
    """Log lines as `text` for people or `json` (one object per line) for a log collector."""
    training_base_name: str = "屯兰矿党建实训基地"
    """The training base's name in learning-record statements (their grouping activity)."""
    report: ReportSettings = _section(ReportSettings, "report_")
    """Trainer reports: keys `report_*`."""
    forwarding: ForwardingSettings = _section(ForwardingSettings, "lrs_")
    """Forwarding learning records to an LRS: keys `lrs_url` ... `lrs_poll_interval` (or an `[lrs]` table)."""
    lrs: LrsSettings = _section(LrsSettings, "lrs_")
    """The embedded LRS: keys `lrs_embedded` ... `lrs_synchronous` (or an `[lrs]` table)."""
    shutdown_timeout: float = 5.0
    """Seconds open requests get to finish on shutdown before they are cut."""
    access_log: bool = True
    """Log one line per request (method, path, status, bytes, milliseconds)."""

    @property
    def build_path(self) -> Path:
        return self.build_dir or self.root / "build"

    @property
    def objects_dir(self) -> Path:
        return self.build_path / "objects"

    @property
    def var_path(self) -> Path:
        return self.var_dir or self.root / "var"

    @property
    def web_path(self) -> Path:
        return self.web_dir or Path(__file__).parent / "web" / "static"

    @property
    def public_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        scheme = "https" if self.tls_cert and self.tls_key else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert and self.tls_key)


CONFIG: web.AppKey[ServerConfig] = web.AppKey("config", ServerConfig)
"""The application's configuration."""


def load_config(
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> ServerConfig:
    """Merge defaults, the config file, `HALLS_*` variables and flags (later wins); check every value.

    `flags` are flat keys (`{"port": 9000, "hub_tick_hz": 20}`); a None flag means "not given".
    """
    env = {} if env is None else env
    values: dict[str, Any] = {}
    file = file or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    if file is not None:
        values |= _checked(read_config_file(file), str(file))
    values |= _checked(_from_env(env), "environment")
    values |= _checked({k: v for k, v in (flags or {}).items() if v is not None}, "flags")
    config = _assembled(values)
    _check_config(config)
    return _rooted(config)


def read_config_file(path: Path) -> dict[str, Any]:
    """Flat keys from a `.toml` or `.yaml`/`.yml` file (`[hub]` tables flattened; `[server]` is the whole file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file: {error.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as error:
        raise ConfigError(f"{path}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of keys")
    return _flattened(data, str(path))


def config_keys() -> list[str]:
    """Every flat key, in field order (a section's keys where the section stands)."""
    return list(_KEYS)


def config_reference() -> dict[str, str]:
    """Each key's docstring, in field order (read from this module's source)."""
    docs = {}
    for section, prefix in [(None, ""), *_SECTIONS.values()]:
        for name, doc in _docstrings(section or ServerConfig).items():
            if section is not None or name not in _SECTIONS:
                docs[prefix + name] = doc
    return {key: docs.get(key, "") for key in config_keys()}


def config_defaults() -> dict[str, Any]:
    """Each key's default value, in field order."""
    return {key: _field_of(key).default for key in config_keys()}


# --- private helpers -------------------------------------------------------


def _sections() -> dict[str, tuple[type, str]]:
    """Section name -> (settings class, key prefix)."""
    hints = typing.get_type_hints(ServerConfig)
    fields = dataclasses.fields(ServerConfig)
    return {f.name: (hints[f.name], f.metadata[PREFIX]) for f in fields if PREFIX in f.metadata}


def _keys() -> dict[str, tuple[str | None, str]]:
    """Flat key -> (section name or None, field name), in field order."""
    keys: dict[str, tuple[str | None, str]] = {}
    for outer in dataclasses.fields(ServerConfig):
        pairs: list[tuple[str, tuple[str | None, str]]]
        if outer.name in _SECTIONS:
            settings, prefix = _SECTIONS[outer.name]
            pairs = [(prefix + f.name, (outer.name, f.name)) for f in dataclasses.fields(settings)]
        else:
            pairs = [(outer.name, (None, outer.name))]
        for key, place in pairs:
            if key in keys:
                raise TypeError(f"config key {key!r} is defined twice")
            keys[key] = place
    return keys


_SECTIONS = _sections()
_KEYS = _keys()
_HINTS = {None: typing.get_type_hints(ServerConfig)} | {
    name: typing.get_type_hints(settings) for name, (settings, _) in _SECTIONS.items()
}


def _field_of(key: str) -> dataclasses.Field:
    section, name = _KEYS[key]
    owner = ServerConfig if section is None else _SECTIONS[section][0]
    return {f.name: f for f in dataclasses.fields(owner)}[name]


def _hint(key: str) -> Any:
    section, name = _KEYS[key]
    return _HINTS[section][name]


def _docstrings(cls: type) -> dict[str, str]:
    """Field name -> the string literal that follows it in the class body."""
    definition = ast.parse(inspect.getsource(cls)).body[0]
    assert isinstance(definition, ast.ClassDef)
    body = definition.body
    docs = {}
    for node, following in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                docs[node.target.id] = inspect.cleandoc(str(following.value.value))
    return docs


def _flattened(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A file's keys as flat keys: `[hub] tick_hz` -> `hub_tick_hz`, `[auth] trainers` -> `trainers`."""
    flat: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        if key in flat:
            raise ConfigError(f"{source}: config key '{key}' is given twice")
        flat[key] = value

    for name, value in data.items():
        if isinstance(value, dict) and name == "server":
            for key, inner in _flattened(value, source).items():
                put(key, inner)
        elif isinstance(value, dict):
            prefix = _SECTIONS[name][1] if name in _SECTIONS else f"{name}_"
            for key, inner in value.items():
                put(f"{prefix}{key}", inner)
        else:
            put(name, value)
    return flat


def _assembled(values: Mapping[str, Any]) -> ServerConfig:
    """A `ServerConfig` from checked flat keys; every other key keeps its default."""
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    for key, value in values.items():
        section, name = _KEYS[key]
        (top if section is None else sections[section])[name] = value
    return ServerConfig(**top, **{name: _SECTIONS[name][0](**changes) for name, changes in sections.items()})


def _from_env(env: Mapping[str, str]) -> dict[str, str]:
    found = {}
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and name != CONFIG_ENV:
            key = name[len(ENV_PREFIX) :].lower()
            if key in _KEYS:
                found[key] = value
    return found


def _checked(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    keys = config_keys()
    checked = {}
    for key, value in values.items():
        if key not in _KEYS:
            close = _suggest(key, keys)
            hint = f" (did you mean '{close}'?)" if close else ""
            raise ConfigError(f"{source}: unknown config key '{key}'{hint}")
        try:
            checked[key] = _coerce(value, _hint(key))
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {key}: expected {_type_name(_hint(key))}, got {value!r}") from None
    return checked


def _suggest(word: str, keys: list[str]) -> str | None:
    """The likeliest intended key: swapped letters first, then the closest spelling."""
    swapped = [k for k in keys if sorted(k) == sorted(word)]
    if swapped:
        return swapped[0]
    close = difflib.get_close_matches(word, keys, n=1)
    return close[0] if close else None


def _coerce(value: Any, hint: Any) -> Any:
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
    if optional:
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        if isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
            return config_list(value)
        raise TypeError(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
            return value.strip().lower() in TRUE
        raise ValueError(value)
    if hint is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return int(value)
    if hint is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if hint is Path:
        if not isinstance(value, (str, Path)):
            raise TypeError(value)
        return Path(value).expanduser()
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(value)
        return value
    raise TypeError(hint)


def _type_name(hint: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", Path: "a path", str: "a string"}
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return "a list or a comma-separated string"
    return names.get(args[0] if args else hint, str(hint))


def _check_config(config: ServerConfig) -> None:
    hub, auth, forwarding, lrs = config.hub, config.auth, config.forwarding, config.lrs
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"port: {config.port} is not a TCP port (0-65535)")
    if config.workers < 1:
        raise ConfigError(f"workers: must be at least 1, got {config.workers}")
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ConfigError("tls_cert and tls_key must be given together")
    if config.workers > 1 and config.watch:
        raise ConfigError("watch: rebuilding on edits needs a single worker (workers = 1)")
    if not config.objects_url.endswith("/"):
        raise ConfigError(f"objects_url: must end with '/', got {config.objects_url!r}")
    _positive(
        watch_interval=config.watch_interval,
        reload_interval=config.reload_interval,
        hub_tick_hz=hub.tick_hz,
        hub_max_rate_hz=hub.max_rate_hz,
        hub_control_rate_hz=hub.control_rate_hz,
        hub_rate_burst=hub.rate_burst,
        hub_heartbeat=hub.heartbeat,
        hub_join_timeout=hub.join_timeout,
    )
    if auth.enrolment not in ("open", "code", "list"):
        raise ConfigError(f"enrolment: must be open, code or list, got {auth.enrolment!r}")
    if auth.enrolment == "code" and not auth.enrolment_code:
        raise ConfigError("enrolment: 'code' needs enrolment_code")
    if auth.enrolment == "list" and not auth.enrolment_tokens:
        raise ConfigError("enrolment: 'list' needs enrolment_tokens")
    _positive(
        session_ttl=auth.session_ttl,
        signin_window=auth.signin_window,
        lrs_timeout=forwarding.timeout,
        lrs_backoff_base=forwarding.backoff_base,
        lrs_backoff_max=forwarding.backoff_max,
        lrs_poll_interval=forwarding.poll_interval,
    )
    if config.log_format not in LOG_FORMATS:
        raise ConfigError(f"log_format: must be {' or '.join(LOG_FORMATS)}, got {config.log_format!r}")
    if lrs.synchronous not in ("FULL", "NORMAL"):
        raise ConfigError(f"lrs_synchronous: must be FULL or NORMAL, got {lrs.synchronous!r}")
    counts = dict(
        signin_failures=auth.signin_failures,
        max_body_bytes=config.max_body_bytes,
        hub_max_message_bytes=hub.max_message_bytes,
        hub_queue_limit=hub.queue_limit,
        hub_neighbours=hub.neighbours,
        hub_send_buffer=hub.send_buffer,
        lrs_page_size=lrs.page_size,
        lrs_max_body_bytes=lrs.max_body_bytes,
        lrs_batch_size=forwarding.batch_size,
    )
    for key, value in counts.items():
        if value < 1:
            raise ConfigError(f"{key}: must be at least 1")


def _positive(**values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ConfigError(f"{key}: must be positive")


def _rooted(config: ServerConfig) -> ServerConfig:
    """Relative paths are taken from `root`."""

    def rooted(path: Path | None) -> Path | None:
        return config.root / path if path is not None and not path.is_absolute() else path

    return dataclasses.replace(
        config,
        build_dir=rooted(config.build_dir),
        tls_cert=rooted(config.tls_cert),
        tls_key=rooted(config.tls_key),
        var_dir=rooted(config.var_dir),
        web_dir=rooted(config.web_dir),
        auth=dataclasses.replace(config.auth, enrolment_tokens=rooted(config.auth.enrolment_tokens)),
    )
