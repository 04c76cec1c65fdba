"""Signed statements (xAPI 1.0.3 Part 2 2.6): JWS checks without a server, and a helper to build signed bodies."""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import json
import uuid

import pytest

from server.lrs.attachments import SIGNATURE_USAGE, check_signature
from server.lrs.validate import StatementError
from tests.server.lrs_support import spec_examples


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def make_jws(payload: dict, alg: str = "RS256") -> bytes:
    """A compact JWS of `payload` signed by a fresh key whose self-signed certificate travels in `x5c`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "halls test signer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    header = {"alg": alg, "x5c": [base64.b64encode(der).decode()]}
    signing_input = _b64(json.dumps(header).encode()) + b"." + _b64(json.dumps(payload).encode())
    digest = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}[alg]
    return signing_input + b"." + _b64(key.sign(signing_input, padding.PKCS1v15(), digest))


def _signature_attachment(jws: bytes) -> dict:
    return {
        "usageType": SIGNATURE_USAGE,
        "display": {"en-US": "Signature"},
        "description": {"en-US": "A test signature"},
        "contentType": "application/octet-stream",
        "length": len(jws),
        "sha2": hashlib.sha256(jws).hexdigest(),
    }


def signed_statement_body(tamper: bool) -> tuple[bytes, str, str]:
    """A multipart body holding the Appendix D statement signed (or signed, then changed when `tamper`)."""
    original = copy.deepcopy(spec_examples()["statements"]["signed original (Part 2 Appendix D)"])
    original["id"] = str(uuid.uuid4())
    jws = make_jws(original)
    sent = copy.deepcopy(original)
    if tamper:
        sent["verb"]["id"] = "http://adlnet.gov/expapi/verbs/failed"
    sent["attachments"] = [_signature_attachment(jws)]
    boundary = "signed-boundary"
    body = (
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode()
        + json.dumps(sent).encode()
        + f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
        f"X-Experience-API-Hash: {hashlib.sha256(jws).hexdigest()}\r\n\r\n".encode()
        + jws
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/mixed; boundary={boundary}", original["id"]


def test_signature_over_the_statement_itself_is_accepted():
    pytest.importorskip("cryptography")
    original = spec_examples()["statements"]["signed original (Part 2 Appendix D)"]
    jws = make_jws(original, "RS384")
    check_signature({**original, "attachments": [_signature_attachment(jws)]}, _signature_attachment(jws), jws)


def test_signature_from_another_key_is_rejected():
    pytest.importorskip("cryptography")
    original = spec_examples()["statements"]["signed original (Part 2 Appendix D)"]
    jws = make_jws(original)
    forged = jws.rsplit(b".", 1)[0] + b"." + make_jws(original).rsplit(b".", 1)[1]
    with pytest.raises(StatementError, match="does not verify against its x5c certificate"):
        check_signature(original, _signature_attachment(forged), forged)


@pytest.mark.parametrize(
    "header, message",
    [
        ({"alg": "HS256"}, "signature attachment: JWS alg must be RS256, RS384 or RS512"),
        ({"alg": "none"}, "signature attachment: JWS alg must be RS256, RS384 or RS512"),
    ],
)
def test_signature_with_a_forbidden_algorithm_is_rejected(header, message):
    original = spec_examples()["statements"]["signed original (Part 2 Appendix D)"]
    jws = _b64(json.dumps(header).encode()) + b"." + _b64(json.dumps(original).encode()) + b"." + _b64(b"sig")
    with pytest.raises(StatementError) as caught:
        check_signature(original, _signature_attachment(jws), jws)
    assert str(caught.value) == message


def test_signature_attachment_must_be_octet_stream():
    original = spec_examples()["statements"]["signed original (Part 2 Appendix D)"]
    attachment = {**_signature_attachment(b"x.y.z"), "contentType": "application/jose"}
    with pytest.raises(StatementError, match="contentType must be application/octet-stream"):
        check_signature(original, attachment, b"x.y.z")
