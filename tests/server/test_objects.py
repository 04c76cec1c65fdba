"""Objects: strong ETags, immutable caching, 304, Range/416/If-Range, content types, traversal attempts."""

from __future__ import annotations

import hashlib
import os

import pytest

from server.web import objects
from tests.server.conftest import SECRET, fetch, store_object

DATA = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def glb(build_dir):
    return store_object(build_dir, DATA, "glb")


def test_object_get_answers_bytes_with_hash_etag_and_immutable_caching(server, glb):
    reply = fetch(server.port, f"/objects/{glb['name']}")
    assert reply.status == 200 and reply.body == DATA
    assert reply.headers["ETag"] == f'"{glb["sha256"]}"'
    assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert reply.headers["Content-Type"] == "model/gltf-binary"
    assert reply.headers["Content-Length"] == str(len(DATA))
    assert reply.headers["Accept-Ranges"] == "bytes"


def test_object_head_answers_headers_without_body(server, glb):
    reply = fetch(server.port, f"/objects/{glb['name']}", method="HEAD")
    assert reply.status == 200 and reply.body == b""
    assert reply.headers["Content-Length"] == str(len(DATA))
    assert reply.headers["ETag"] == f'"{glb["sha256"]}"'


@pytest.mark.parametrize(
    "ext, content_type",
    [
        ("glb", "model/gltf-binary"),
        ("bam", "application/octet-stream"),
        ("bam.pz", "application/octet-stream"),
        ("png", "image/png"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("ogg", "audio/ogg"),
        ("mp3", "audio/mpeg"),
        ("wav", "audio/wav"),
        ("mp4", "video/mp4"),
        ("webm", "video/webm"),
    ],
)
def test_object_content_type_follows_extension(server, build_dir, ext, content_type):
    entry = store_object(build_dir, b"object of kind " + ext.encode(), ext)
    reply = fetch(server.port, f"/objects/{entry['name']}")
    assert reply.status == 200 and reply.headers["Content-Type"] == content_type


def test_object_is_never_compressed_even_when_gzip_is_accepted(server, glb):
    reply = fetch(server.port, f"/objects/{glb['name']}", headers={"Accept-Encoding": "gzip, br"})
    assert reply.status == 200 and reply.body == DATA
    assert "Content-Encoding" not in reply.headers


@pytest.mark.parametrize("if_none_match", ['"{h}"', 'W/"{h}"', '"other", "{h}"', "*"])
def test_object_if_none_match_with_its_hash_answers_304_with_validators(server, glb, if_none_match):
    reply = fetch(
        server.port, f"/objects/{glb['name']}", headers={"If-None-Match": if_none_match.format(h=glb["sha256"])}
    )
    assert reply.status == 304 and reply.body == b""
    assert reply.headers["ETag"] == f'"{glb["sha256"]}"'
    assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_object_if_none_match_with_another_tag_answers_200(server, glb):
    reply = fetch(server.port, f"/objects/{glb['name']}", headers={"If-None-Match": '"' + "0" * 64 + '"'})
    assert reply.status == 200 and reply.body == DATA


def test_object_if_match_with_another_tag_answers_412(server, glb):
    reply = fetch(server.port, f"/objects/{glb['name']}", headers={"If-Match": '"nope"'})
    assert reply.status == 412


@pytest.mark.parametrize(
    "header, first, last",
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(DATA) - 1),
        ("bytes=-50", len(DATA) - 50, len(DATA) - 1),
        ("bytes=10000-99999", 10000, len(DATA) - 1),
        ("bytes=-99999", 0, len(DATA) - 1),
        ("bytes=100-" + "9" * 5000, 100, len(DATA) - 1),  # positions past int()'s 4,300-digit limit
        ("bytes=-" + "9" * 5000, 0, len(DATA) - 1),
    ],
)
def test_object_range_answers_206_with_content_range(server, glb, header, first, last):
    reply = fetch(server.port, f"/objects/{glb['name']}", headers={"Range": header})
    assert reply.status == 206
    assert reply.body == DATA[first : last + 1]
    assert reply.headers["Content-Range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert reply.headers["Content-Length"] == str(last - first + 1)
    assert reply.headers["ETag"] == f'"{glb["sha256"]}"'


@pytest.mark.parametrize(
    "header", [f"bytes={len(DATA)}-", "bytes=20000-20010", "bytes=-0", "bytes=50-10", "bytes=" + "9" * 5000 + "-"]
)  # past int()'s 4,300-digit limit
def test_object_unsatisfiable_range_answers_416_with_size(server, glb, header):
    reply = fetch(server.port, f"/objects/{glb['name']}", headers={"Range": header})
    assert reply.status == 416
    assert reply.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize(
    "header", ["items=0-10", "bytes=0-1,5-6", "bytes=abc", "bytes=--5", "bytes=\xc2\xb2-5", "bytes=-\xd9\xa3"]
)  # '²' and Arabic-Indic 3, sent as UTF-8
def test_object_range_it_cannot_use_is_ignored_and_whole_object_sent(server, glb, header):
    reply = fetch(server.port, f"/objects/{glb['name']}", headers={"Range": header})
    assert reply.status == 200 and reply.body == DATA


def test_object_if_range_with_its_etag_answers_206(server, glb):
    reply = fetch(
        server.port, f"/objects/{glb['name']}", headers={"Range": "bytes=0-9", "If-Range": f'"{glb["sha256"]}"'}
    )
    assert reply.status == 206 and reply.body == DATA[:10]


@pytest.mark.parametrize("if_range", ['"' + "1" * 64 + '"', 'W/"{h}"', "Sun, 29 Nov 2026 02:24:37 GMT"])
def test_object_if_range_that_does_not_match_answers_whole_object(server, glb, if_range):
    reply = fetch(
        server.port,
        f"/objects/{glb['name']}",
        headers={"Range": "bytes=0-9", "If-Range": if_range.format(h=glb["sha256"])},
    )
    assert reply.status == 200 and reply.body == DATA


def test_object_unknown_hash_answers_404(server):
    assert fetch(server.port, "/objects/" + "a" * 64 + ".glb").status == 404


# --- traversal attempts ------------------------------------------------------

TRICKS = [
    "/objects/../current/catalog.json",
    "/objects/%2e%2e/current/catalog.json",
    "/objects/%2E%2E/current/private/answers/alpha.json",
    "/objects/..%2fcurrent%2fprivate%2fanswers%2falpha.json",
    "/objects/%2e%2e%2fcurrent%2fprivate%2fanswers%2falpha.json",
    "/objects/%2e%2e%5ccurrent%5cprivate%5canswers%5calpha.json",
    "/objects/....//current/private/answers/alpha.json",
    "/objects//etc/passwd",
    "/objects/%2fetc%2fpasswd",
    "/objects/%252e%252e%252fcurrent%252fcatalog.json",
    "/objects/{h}.glb%00.png",
    "/objects/{h}.glb%00",
    "/objects/{h}.glb%0a",
    "/objects/{h}.glb/",
    "/objects/{h}.glb/..",
    "/objects/{H}.glb",
    "/objects/{h}.GLB",
    "/objects/{h}.json",
    "/objects/{h}",
    "/objects/{short}.glb",
    "/objects/./{h}.glb.",
    "/objects/",
    "/objects",
    "/current/private/answers/alpha.json",
    "/releases/b1/private/answers/alpha.json",
    "/private/answers/alpha.json",
    "/build/current/catalog.json",
]


@pytest.mark.parametrize("trick", TRICKS)
def test_object_traversal_trick_answers_404_without_opening_any_file(server, glb, trick, monkeypatch):
    opened = []
    monkeypatch.setattr(objects, "open_object", lambda *args: opened.append(args))
    monkeypatch.setattr(objects, "is_object", lambda *args: opened.append(args))
    path = trick.format(h=glb["sha256"], H=glb["sha256"].upper(), short=glb["sha256"][:63])
    reply = fetch(server.port, path)
    assert reply.status == 404
    assert SECRET.encode() not in reply.body and b"tunlan-hall" not in reply.body
    assert opened == []


def test_object_traversal_in_absolute_form_request_target_answers_404(server, glb):
    reply = fetch(server.port, f"http://127.0.0.1:{server.port}/objects/..%2fcurrent%2fcatalog.json")
    assert reply.status == 404 and b"tunlan-hall" not in reply.body


def test_object_symlink_out_of_objects_folder_answers_404(server, build_dir):
    secret = build_dir / "current" / "private" / "answers" / "alpha.json"
    name = hashlib.sha256(b"planted").hexdigest() + ".glb"
    (build_dir / "objects" / name).symlink_to(secret.resolve())
    reply = fetch(server.port, f"/objects/{name}")
    assert reply.status == 404 and SECRET.encode() not in reply.body


def test_object_symlink_to_another_object_answers_404(server, build_dir, glb):
    name = hashlib.sha256(b"alias").hexdigest() + ".glb"
    (build_dir / "objects" / name).symlink_to(build_dir / "objects" / glb["name"])
    assert fetch(server.port, f"/objects/{name}").status == 404
    assert fetch(server.port, f"/objects/{name}", headers={"If-None-Match": f'"{name[:64]}"'}).status == 404


def test_object_revalidation_of_missing_object_answers_404(server):
    name = "c" * 64 + ".glb"
    assert fetch(server.port, f"/objects/{name}", headers={"If-None-Match": f'"{name[:64]}"'}).status == 404


def test_object_name_that_is_a_fifo_or_folder_answers_404_without_blocking(server, build_dir):
    fifo = hashlib.sha256(b"fifo").hexdigest() + ".bam"
    folder = hashlib.sha256(b"folder").hexdigest() + ".glb"
    os.mkfifo(build_dir / "objects" / fifo)
    (build_dir / "objects" / folder).mkdir()
    assert fetch(server.port, f"/objects/{fifo}").status == 404
    assert fetch(server.port, f"/objects/{folder}").status == 404


def test_parse_range_reads_one_byte_range():
    assert objects.parse_range("bytes=0-0", 10) == (0, 0)
    assert objects.parse_range("bytes=9-", 10) == (9, 9)
    assert objects.parse_range("bytes=-3", 10) == (7, 9)
    assert objects.parse_range("bytes=10-", 10) == "unsatisfiable"
    assert objects.parse_range("bytes=0-", 0) == "unsatisfiable"
    assert objects.parse_range("bytes=1-2, 4-5", 10) is None
    assert objects.parse_range("lines=1-2", 10) is None


def test_object_valid_name_is_the_only_kind_opened(server, glb, monkeypatch):
    """Control for the traversal tests: the recorder sees a well-formed name."""
    opened = []
    monkeypatch.setattr(objects, "open_object", lambda folder, name: opened.append(name))
    assert fetch(server.port, f"/objects/{glb['name']}").status == 404
    assert opened == [glb["name"]]
