"""`halls cert`: a local CA and a server certificate for internal hosts."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import ipaddress
import ssl
import stat
from contextlib import redirect_stdout

import pytest
from cryptography import x509

from server.web.tls import add_cert_arguments, cert_command, issue_certificate


def parse(argv):
    parser = argparse.ArgumentParser()
    add_cert_arguments(parser)
    return parser.parse_args(argv)


def test_cert_covers_every_host_and_chains_to_the_local_ca(tmp_path):
    issued = issue_certificate(["192.168.10.20", "Halls.Mine.Local", "192.168.10.20"], tmp_path)
    chain = x509.load_pem_x509_certificates(issued.cert.read_bytes())
    server, ca = chain
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.168.10.20")]
    assert names.get_values_for_type(x509.DNSName) == ["halls.mine.local"]
    assert server.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert server.not_valid_after_utc - server.not_valid_before_utc <= dt.timedelta(days=826)
    assert stat.S_IMODE(issued.key.stat().st_mode) == 0o600
    context = ssl.create_default_context(cafile=str(issued.ca_cert))  # a client trusting the CA accepts it
    context.load_verify_locations(cadata=issued.ca_cert.read_text())
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(issued.cert, issued.key)


def test_second_cert_reuses_the_ca_unless_asked(tmp_path):
    first = issue_certificate(["10.0.0.5"], tmp_path)
    second = issue_certificate(["10.0.0.6"], tmp_path)
    third = issue_certificate(["10.0.0.6"], tmp_path, new_ca=True)
    assert first.ca_created and not second.ca_created and third.ca_created
    assert first.fingerprint == second.fingerprint != third.fingerprint


def test_cert_command_prints_config_keys_and_headset_steps(tmp_path):
    out = io.StringIO()
    with redirect_stdout(out):
        assert cert_command(parse(["--host", "192.168.1.20", "--out", str(tmp_path / "tls")])) == 0
    text = out.getvalue()
    assert f'tls_cert = "{tmp_path / "tls" / "cert.pem"}"' in text
    assert f'tls_key = "{tmp_path / "tls" / "key.pem"}"' in text
    assert "Install a certificate > CA certificate" in text and "https://192.168.1.20:8443/" in text


@pytest.mark.parametrize("host", ["bad host", "-lead.example", "a..b", "x" * 64 + ".local", ""])
def test_cert_command_refuses_bad_host_names(tmp_path, host, caplog):
    assert cert_command(parse([f"--host={host}", "--out", str(tmp_path)])) == 2
    assert "not a host name or IP address" in caplog.text
