"""Statement attachments: multipart/mixed in and out, hash matching, signed statements.

    first, parts = parse_multipart(body, content_type)      # Part 3 1.5.2
    check_attachments(statements, parts)                     # 400 reasons as StatementError
    body, content_type = multipart_reply(json_text, parts)

An attachment without `fileUrl` must arrive as a part whose
X-Experience-API-Hash equals its `sha2` (and the part's data must hash to
it), sent with `Content-Transfer-Encoding: binary` (Part 3 1.5.2.s2.b2.b4);
every part must belong to an attachment.  A signature attachment
(usageType .../attachments/signature) must be a JWS (RS256/384/512) whose
payload is the statement itself; with an `x5c` certificate the signature
is verified too when the `cryptography` package is present.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Iterable

from server.lrs.format import same_statement
from server.lrs.validate import StatementError, parse_json

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
_HASHES = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}
_JWS_HASHES = {"RS256": "SHA256", "RS384": "SHA384", "RS512": "SHA512"}


class Part:
    """One multipart body part: its headers (lower-case names) and data."""

    def __init__(self, headers: dict[str, str], data: bytes) -> None:
        self.headers = headers
        self.data = data


def parse_multipart(body: bytes, content_type: str) -> tuple[bytes, list[Part]]:
    """The first part's bytes (it must be application/json) and the remaining parts."""
    boundary = _boundary(content_type)
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    data = b"\r\n" + body
    start = data.find(delimiter)
    if start < 0:
        raise StatementError("multipart body: no boundary found")
    parts: list[Part] = []
    position = start + len(delimiter)
    while True:
        if data[position : position + 2] == b"--":
            break
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            raise StatementError("multipart body: truncated part")
        following = data.find(delimiter, line_end)
        if following < 0:
            raise StatementError("multipart body: missing closing boundary")
        parts.append(_part(data[line_end + 2 : following]))
        position = following + len(delimiter)
    if not parts:
        raise StatementError("multipart body: no parts")
    first = parts[0]
    if first.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise StatementError("multipart body: the first part must be application/json (the statements)")
    return first.data, parts[1:]


def _boundary(content_type: str) -> str:
    for piece in content_type.split(";")[1:]:
        name, _, value = piece.strip().partition("=")
        if name.strip().lower() == "boundary":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if value:
                return value
    raise StatementError("multipart/mixed without a boundary parameter")


def _part(raw: bytes) -> Part:
    head, sep, data = raw.partition(b"\r\n\r\n")
    if not sep:
        if raw.startswith(b"\r\n"):
            head, data = b"", raw[2:]
        else:
            raise StatementError("multipart body: a part has no blank line after its headers")
    headers = {}
    for line in head.split(b"\r\n"):
        if not line.strip():
            continue
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise StatementError(f"multipart body: bad part header {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    return Part(headers, data)


def attachment_objects(statements: Iterable[dict]) -> list[tuple[dict, dict]]:
    """(statement, attachment) pairs, SubStatement attachments included."""
    found = []
    for statement in statements:
        for attachment in statement.get("attachments", []):
            found.append((statement, attachment))
        sub = statement.get("object", {})
        if isinstance(sub, dict) and sub.get("objectType") == "SubStatement":
            for attachment in sub.get("attachments", []):
                found.append((statement, attachment))
    return found


def check_attachments(statements: list[dict], parts: list[Part] | None) -> list[tuple[str, str, bytes]]:
    """Match parts to attachment objects; the payloads to store as (sha2, content type, data)."""
    pairs = attachment_objects(statements)
    by_hash: dict[str, Part] = {}
    for number, part in enumerate(parts or [], start=2):
        sha2 = part.headers.get("x-experience-api-hash")
        if not sha2:
            raise StatementError(f"multipart part {number}: missing X-Experience-API-Hash header")
        encoding = part.headers.get("content-transfer-encoding")
        if encoding is None or encoding.lower() != "binary":  # Part 3 1.5.2.s2.b2.b4
            found = f"got {encoding!r}" if encoding is not None else "it has none"
            raise StatementError(f"multipart part {number}: Content-Transfer-Encoding must be binary ({found})")
        algorithm = _HASHES.get(len(sha2))
        if algorithm is None or algorithm(part.data).hexdigest() != sha2.lower():
            raise StatementError(f"multipart part {number}: data does not match its X-Experience-API-Hash")
        by_hash[sha2.lower()] = part
    wanted = {attachment["sha2"].lower() for _, attachment in pairs}
    for sha2 in by_hash:
        if sha2 not in wanted:
            raise StatementError(f"multipart part with hash {sha2} belongs to no attachment")
    payloads = []
    for statement, attachment in pairs:
        sha2 = attachment["sha2"].lower()
        matched = by_hash.get(sha2)
        if matched is None:
            if "fileUrl" not in attachment:
                where = "multipart body" if parts is not None else "application/json request"
                raise StatementError(
                    f"attachment {sha2}: no fileUrl and no matching part in the {where} "
                    "(send its data as multipart/mixed)"
                )
            continue
        if attachment["usageType"] == SIGNATURE_USAGE:
            check_signature(statement, attachment, matched.data)
        payloads.append((sha2, attachment["contentType"], matched.data))
    for _statement, attachment in pairs:
        if attachment["usageType"] == SIGNATURE_USAGE and attachment["sha2"].lower() not in by_hash:
            if attachment.get("contentType") != "application/octet-stream":
                raise StatementError("signature attachment: contentType must be application/octet-stream")
    return payloads


def check_signature(statement: dict, attachment: dict, data: bytes) -> None:
    """Part 2 2.6: a well-formed JWS over the statement itself, RS256/384/512."""
    if attachment.get("contentType") != "application/octet-stream":
        raise StatementError("signature attachment: contentType must be application/octet-stream")
    pieces = data.strip().split(b".")
    if len(pieces) != 3:
        raise StatementError("signature attachment: not a JWS in compact serialization")
    try:
        header = parse_json(_b64url(pieces[0]))
        payload = parse_json(_b64url(pieces[1]))
        signature = _b64url(pieces[2])
    except (ValueError, binascii.Error):  # JsonError is a ValueError
        raise StatementError("signature attachment: JWS header or payload is not base64url JSON") from None
    if not isinstance(header, dict) or header.get("alg") not in _JWS_HASHES:
        raise StatementError("signature attachment: JWS alg must be RS256, RS384 or RS512")
    if not isinstance(payload, dict):
        raise StatementError("signature attachment: the JWS payload is not a statement")
    unsigned = {key: value for key, value in statement.items() if key != "attachments"}
    rest = [a for a in statement.get("attachments", []) if a.get("usageType") != SIGNATURE_USAGE]
    if rest:
        unsigned["attachments"] = rest
    signed = {key: value for key, value in payload.items() if key != "attachments" or value}
    if "id" in signed and "id" in statement and str(signed["id"]).lower() != str(statement["id"]).lower():
        raise StatementError("signature attachment: the signed statement has another id")
    try:
        equal = same_statement(signed, unsigned) and same_statement(unsigned, signed)
    except (KeyError, TypeError, AttributeError, ValueError):
        equal = False
    if not equal:
        raise StatementError("signature attachment: the signed payload differs from the statement")
    if header.get("x5c"):
        _verify_x5c(header, pieces[0] + b"." + pieces[1], signature)


def _verify_x5c(header: dict, signed: bytes, signature: bytes) -> None:
    try:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:  # verification is a courtesy; the structural checks above are the MUST
        return
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
        algorithm = getattr(hashes, _JWS_HASHES[header["alg"]])()
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):  # RS256/384/512 need an RSA key: answered as unreadable below
            raise TypeError(f"an RS* signature cannot be checked with a {type(key).__name__}")
        key.verify(signature, signed, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise StatementError(
            "signature attachment: the JWS signature does not verify against its x5c certificate"
        ) from None
    except (ValueError, TypeError, IndexError, KeyError, binascii.Error, AttributeError):
        raise StatementError("signature attachment: the x5c certificate cannot be read") from None


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def multipart_reply(json_text: str, payloads: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/mixed body: the JSON first, then each attachment payload by hash."""
    boundary = secrets.token_hex(16)
    chunks = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), json_text.encode()]
    for sha2, (content_type, data) in payloads.items():
        chunks.append(
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {sha2}\r\n\r\n".encode()
        )
        chunks.append(data)
    chunks.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(chunks), f'multipart/mixed; boundary="{boundary}"'
