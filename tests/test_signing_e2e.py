"""Signed requests (Web Bot Auth) through the CLI: a site that verifies every request, and wrong inputs.

The verifying site knows nothing of permitcrawl's signer: it verifies with
http-message-signatures fed only the directory ``permitcrawl keys directory``
printed, and answers 403 to any request without a valid signature.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from crawler.localweb.server import serve
from tests.conftest import crawl, run_cli
from tests.sites import TEXT, page
from tests.webbotauth import DirectoryVerifier, Verdict, verifying_guard

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from crawler.localweb.server import LocalWebServer

HOST = "verify.test"
AGENT = "https://crawler.example"
VERIFY_SITES = {
    HOST: {
        "/robots.txt": (200, TEXT, "User-agent: *\nDisallow: /private/\n"),
        "/": page("verify home", "/a", "/b?x=1", "/private/p", "/moved"),
        "/a": page("verify a", "/", "/b?x=1"),
        # A redirect copies the request's headers: the next request is signed again, for its own path.
        "/moved": (301, {"Location": "/c"}, ""),
        "/c": page("verify c"),
        "/b?x=1": page("verify b", "/a"),
        "/private/p": page("never requested"),
    },
}
# The RFC 9421 Appendix B.1.4 key, as the draft's test vectors use it: published, so never ours.
TEST_KEY = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU",
    "x": "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs",
}


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A key made by ``keys generate``, its key id, and the directory ``keys directory`` printed."""
    path = tmp_path_factory.mktemp("keys") / "crawler.jwk"
    made = run_cli("keys", "generate", "--out", path)
    assert made.returncode == 0, made.stderr
    listed = run_cli("keys", "directory", path)
    assert listed.returncode == 0, listed.stderr
    return path, json.loads(path.read_text())["kid"], listed.stdout


@pytest.fixture
def verifying_web(key: tuple[Path, str, str]) -> Iterator[tuple[LocalWebServer, list[Verdict]]]:
    verdicts: list[Verdict] = []
    server = serve(VERIFY_SITES)
    server.guard = verifying_guard(DirectoryVerifier(key[2]), HOST, verdicts)
    yield server, verdicts
    server.close()


def _records(directory: Path, kind: str) -> Iterator[tuple[object, object]]:
    for path in sorted(directory.glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == kind:
                    yield record, record.content_stream().read()


def _captured(out: Path) -> list[str]:
    """The URLs whose content was captured (2xx), not only an error page."""
    db = sqlite_utils.Database(out / "provenance.db")
    return [row["url"] for row in db.query("select url from captures where status between 200 and 299")]


def test_without_signing_the_verifying_site_refuses_everything(
    verifying_web: tuple[LocalWebServer, list[Verdict]], tmp_path: Path
) -> None:
    web, verdicts = verifying_web
    run = crawl(web, tmp_path / "out", seeds=[f"http://{HOST}/"])
    assert run.result.returncode == 0, run.result.stderr
    assert verdicts and all(v.error is not None for v in verdicts)
    assert "/robots.txt" in {v.path for v in verdicts}
    assert _captured(run.out) == []  # the home page's 403 is all there is


def test_with_signing_every_request_verifies_and_the_archive_shows_it(
    verifying_web: tuple[LocalWebServer, list[Verdict]], key: tuple[Path, str, str], tmp_path: Path
) -> None:
    web, verdicts = verifying_web
    path, keyid, published = key
    run = crawl(
        web, tmp_path / "out", "--sign", str(path), "--signature-agent", AGENT, seeds=[f"http://{HOST}/"]
    )
    assert run.result.returncode == 0, run.result.stderr

    # Every request the site saw, evidence documents included, carried a valid signature by our key.
    assert [v for v in verdicts if v.error is not None] == []
    assert {v.keyid for v in verdicts} == {keyid}
    seen = {v.path for v in verdicts}
    assert {"/robots.txt", "/", "/a", "/b?x=1", "/moved", "/c"} <= seen
    assert seen - {"/", "/a", "/b?x=1", "/moved", "/c", "/robots.txt"}, "other evidence documents too"
    assert "/private/p" not in seen
    for request in run.requests:
        assert request.headers["Signature-Agent"] == f'sig1="{AGENT}"'
        assert "authorization" not in request.headers["Signature-Input"].lower()
    assert sorted(_captured(run.out)) == [f"http://{HOST}/{path}" for path in ("", "a", "b?x=1", "c")]

    # The request records show the signature headers as sent: they verify against the directory.
    verifier = DirectoryVerifier(published)
    archived = 0
    for directory in (run.out / "warc", run.out / "evidence"):
        for record, _ in _records(directory, "request"):
            http = record.http_headers
            method = http.protocol  # warcio: the request line's first word
            url = record.rec_headers.get_header("WARC-Target-URI")
            sent_at = datetime.fromisoformat(
                record.rec_headers.get_header("WARC-Date").replace("Z", "+00:00")
            )
            result = verifier.verify(method, url, http.headers, sent_at=sent_at)
            assert result.parameters["keyid"] == keyid
            archived += 1
    assert archived >= 4  # three pages and robots.txt at least

    # warcinfo and the configuration record name the key id, the agent and how requests are signed.
    for directory in (run.out / "warc", run.out / "evidence"):
        infos = list(_records(directory, "warcinfo"))
        assert infos
        for _, body in infos:
            text = body.decode()
            assert f"permitcrawl-signing-keyid: {keyid}" in text
            assert f'permitcrawl-signature-agent: sig1="{AGENT}"' in text
            assert "permitcrawl-signature-expires: 60 seconds after created" in text
            assert "permitcrawl-signing-library: http-message-signatures 3." in text
            assert json.loads(path.read_text())["d"] not in text
    (config,) = [
        json.loads(body)
        for record, body in _records(run.out / "evidence", "resource")
        if record.rec_headers.get_header("WARC-Target-URI").startswith("urn:permitcrawl:crawl:")
    ]
    signing = config["signing"]
    assert signing["keyid"] == keyid and signing["signature_agent"] == f'sig1="{AGENT}"'
    assert signing["components"] == ["@method", "@authority", "@path", '"signature-agent";key="sig1"']
    assert signing["components_when_sent"] == ["crawler-max-price", "crawler-exact-price"]
    assert signing["expires_after_seconds"] == 60
    assert config["config"]["signature_agent"] == AGENT
    assert json.loads(path.read_text())["d"] not in json.dumps(config)
    (row,) = sqlite_utils.Database(run.out / "provenance.db").query("select settings from crawls")
    assert json.loads(row["settings"])["signing"] == signing


def _refused(tmp_path: Path, *args: str, message: str) -> None:
    out = tmp_path / "out"
    result = run_cli("crawl", "http://verify.test/", "--out", out, *args)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists(), "nothing may be created for a crawl that is refused"


def test_sign_without_an_agent_is_refused(key: tuple[Path, str, str], tmp_path: Path) -> None:
    _refused(tmp_path, "--sign", str(key[0]), message="is given without --signature-agent")
    _refused(tmp_path, "--signature-agent", AGENT, message="is given without --sign KEY.jwk")


def test_a_bad_key_file_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jwk"
    bad.write_text('{"kty": "OKP", "crv": "Ed25519", "x": "abc"}')
    _refused(tmp_path, "--sign", str(bad), "--signature-agent", AGENT, message=f"{bad}: has no private key")
    missing = tmp_path / "missing.jwk"
    _refused(tmp_path, "--sign", str(missing), "--signature-agent", AGENT, message=f"{missing}: no such file")


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        ("http://crawler.example", "not https"),
        ("https://crawler.example/bot", "has the path '/bot'"),
        ("https://crawler.example/?q=1", "has a query or fragment"),
    ],
)
def test_an_agent_that_is_not_an_https_origin_is_refused(
    key: tuple[Path, str, str], tmp_path: Path, agent: str, message: str
) -> None:
    _refused(tmp_path, "--sign", str(key[0]), "--signature-agent", agent, message=message)


def test_the_published_test_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "test-key-ed25519.jwk"
    path.write_text(json.dumps(TEST_KEY))
    _refused(
        tmp_path,
        "--sign",
        str(path),
        "--signature-agent",
        AGENT,
        message="is the RFC 9421 Appendix B.1.4 test key",
    )


def test_the_demo_does_not_sign(key: tuple[Path, str, str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", out, "-s", f"PERMITCRAWL_SIGN_KEY={key[0]}")
    assert result.returncode == 2, result.stderr
    assert "the demo does not sign" in result.stderr
    assert not out.exists()
