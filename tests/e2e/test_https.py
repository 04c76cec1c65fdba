"""The viewer over HTTPS with a certificate from `halls cert` (WebXR needs a secure origin)."""

from __future__ import annotations

import ssl

from server.web.tls import issue_certificate
from tests.e2e.conftest import FAKE_XR, page_errors, server_config, wait_loaded


def test_viewer_loads_over_https_as_a_secure_context(halls_project, start_server, open_page, tmp_path):
    issued = issue_certificate(["127.0.0.1"], tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(issued.cert, issued.key)
    config = server_config(halls_project, tls_cert=issued.cert, tls_key=issued.key)
    server = start_server(config, ssl_context=context)
    assert server.url.startswith("https://")
    # the browser does not know our CA: accept it for this page, as a headset does once the CA is installed
    page = open_page(https_errors_ok=True, init_scripts=(FAKE_XR,))
    page.goto(f"{server.url}/halls/lobby")
    wait_loaded(page)
    assert page.evaluate("() => [location.protocol, window.isSecureContext]") == ["https:", True]
    assert page.viewer("meshes") > 0
    page.wait_for("() => window.__hallsViewer.member")  # the hub over wss://
    page.wait_for("() => window.__hallsViewer.xr.supported")  # "Enter VR" is offered on a secure origin
    # Chromium fetches a service worker's script only from a trusted certificate: with our CA accepted for the page
    # alone it refuses the worker (its own console error); the viewer works on without offline mode
    refused_worker = "error: An unknown error occurred when fetching the script."
    assert [e for e in page_errors(page) if e != refused_worker] == []
