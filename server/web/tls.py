"""`halls cert`: a local certificate authority and a server certificate for internal hosts.

    halls cert --host 192.168.1.20 [--host halls.mine.local] [--out var/tls] [--days 825] [--new-ca]

WebXR needs a secure origin, and a headset on the mine's network reaches the
server by an internal name or IP that no public CA will certify.  The command
keeps a small CA in the output folder (`halls-ca.pem`, `halls-ca.key`; made
once and reused, so headsets trust it once) and issues `cert.pem` (server
certificate, then the CA) and `key.pem` for the given hosts.  Configure them
as `tls_cert` and `tls_key`; install `halls-ca.pem` on each headset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CA_CERT = "halls-ca.pem"
CA_KEY = "halls-ca.key"
SERVER_CERT = "cert.pem"
SERVER_KEY = "key.pem"
MAX_DAYS = 825
"""Longest server certificate lifetime Apple and Android still accept."""
CA_DAYS = 3650


@dataclass(frozen=True)
class IssuedCertificate:
    """Files written by `issue_certificate`."""

    cert: Path
    key: Path
    ca_cert: Path
    ca_created: bool
    hosts: tuple[str, ...]
    fingerprint: str
    """SHA-256 of the CA certificate, colon-separated hex (to compare on the headset)."""
    not_after: dt.datetime


def add_cert_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        action="append",
        required=True,
        metavar="NAME_OR_IP",
        help="host name or IP address members type on the headset (repeat for several)",
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="project folder (default: .)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the files (default: ROOT/var/tls)")
    parser.add_argument("--days", type=int, default=MAX_DAYS, help=f"server certificate lifetime (default {MAX_DAYS})")
    parser.add_argument(
        "--new-ca",
        action="store_true",
        help="make a new CA even if one exists (every headset must then trust it again)",
    )


def cert_command(args) -> int:
    """Issue the certificate and print how to use and trust it."""
    out = (args.out if args.out is not None else args.root / "var" / "tls").resolve()
    try:
        issued = issue_certificate(args.host, out, days=args.days, new_ca=args.new_ca)
    except ValueError as error:
        log.error("cert: %s", error)
        return 2
    sys.stdout.write(trust_instructions(issued))
    return 0


def issue_certificate(
    hosts: list[str], out: Path, days: int = MAX_DAYS, new_ca: bool = False, now: dt.datetime | None = None
) -> IssuedCertificate:
    """Write (or reuse) the CA in `out` and a server certificate for `hosts`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    names = _checked_hosts(hosts)
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    now = now or dt.datetime.now(dt.UTC)
    out.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key, created = _load_or_make_ca(out, new_ca, now)
    key = _new_key()
    subject = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.COMMON_NAME, names[0][:64]),
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "Tunlan Halls"),
        ]
    )
    alt_names = [x509.IPAddress(ipaddress.ip_address(h)) if _is_ip(h) else x509.DNSName(h) for h in names]
    not_after = now + dt.timedelta(days=days)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = out / SERVER_CERT, out / SERVER_KEY
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(_cert_pem(certificate) + _cert_pem(ca_cert))
    fingerprint = ca_cert.fingerprint(hashes.SHA256()).hex(":").upper()
    log.info("issued %s for %s (CA %s)", cert_path, ", ".join(names), "new" if created else "reused")
    return IssuedCertificate(cert_path, key_path, out / CA_CERT, created, tuple(names), fingerprint, not_after)


def trust_instructions(issued: IssuedCertificate, port: int = 8443) -> str:
    """What to put in the config and how to make a headset trust the CA."""
    host = issued.hosts[0]
    shown = f"[{host}]" if ":" in host else host
    lines = [
        f"Server certificate: {issued.cert}  (hosts: {', '.join(issued.hosts)}; "
        f"valid until {issued.not_after:%Y-%m-%d})",
        f"Private key:        {issued.key}  (keep it secret)",
        f"CA certificate:     {issued.ca_cert}  ({'new' if issued.ca_created else 'reused'}; "
        f"SHA-256 {issued.fingerprint})",
        "",
        "1. Serve over HTTPS: add to halls.toml (or set HALLS_TLS_CERT / HALLS_TLS_KEY)",
        f'       tls_cert = "{issued.cert}"',
        f'       tls_key = "{issued.key}"',
        f"   and run  halls serve --host 0.0.0.0 --port {port}  (members open https://{shown}:{port}/).",
        "2. Trust the CA once on every headset (Meta Quest, Pico and other Android-based browsers):",
        f"   - copy {issued.ca_cert.name} to the headset (USB: adb push {issued.ca_cert} /sdcard/Download/,",
        "     or download it from a trusted machine);",
        "   - Settings > Security > Encryption & credentials > Install a certificate > CA certificate,",
        f"     pick {issued.ca_cert.name} and check that its SHA-256 matches the one above;",
        '   - reopen the browser and visit the https:// address: no warning, and "Enter VR" appears.',
        '   Without installing the CA, the browser shows a warning; "Advanced > Proceed" also works, per headset',
        "   and browser profile, but some browsers then refuse WebXR.",
        "3. Desktop browsers: import the same file as a trusted authority (Chrome: Settings > Privacy and",
        "   security > Security > Manage certificates > Authorities > Import).",
        "Re-running `halls cert` for other hosts reuses the CA; `--new-ca` replaces it (trust it again).",
        "",
    ]
    return "\n".join(lines)


# --- private helpers -------------------------------------------------------


def _checked_hosts(hosts: list[str]) -> list[str]:
    names = []
    for raw in hosts:
        host = raw.strip().strip("[]").lower()
        if _is_ip(host):
            names.append(str(ipaddress.ip_address(host)))
            continue
        labels = host.rstrip(".").split(".")
        if not host or len(host) > 253 or not all(_label_ok(label) for label in labels):
            raise ValueError(f"--host {raw!r}: not a host name or IP address")
        names.append(host.rstrip("."))
    return list(dict.fromkeys(names))


def _label_ok(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _load_or_make_ca(out: Path, new_ca: bool, now: dt.datetime):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    cert_path, key_path = out / CA_CERT, out / CA_KEY
    if not new_ca and cert_path.is_file() and key_path.is_file():
        ca_cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        ca_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if ca_cert.not_valid_after_utc > now + dt.timedelta(days=30):
            return ca_cert, ca_key, False
        log.warning("the CA in %s expires soon; making a new one", out)
    ca_key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.COMMON_NAME, f"Tunlan Halls local CA {now:%Y-%m-%d}"),
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "Tunlan Halls"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(ca_key))
    cert_path.write_bytes(_cert_pem(ca_cert))
    return ca_cert, ca_key, True


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by the owner only, replacing any old file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(tmp, path)
