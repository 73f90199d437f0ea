"""The Selenium scraper against a real headless Chromium and a local results page with hostile cases."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import shutil
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fer_edge.cli import cli
from fer_edge.errors import FerEdgeError, MissingDependencyError
from fer_edge.scrape.crawler import MANIFEST, ScrapeOptions, scrape
from fer_edge.scrape.fetch import FetchOptions, Rejected, fetch_image
from fer_edge.scrape.profile import GOOGLE_IMAGES, load_profile
from fer_edge.synthetic import draw_face

HAVE_BROWSER = Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()


def needs_browser(test):
    """Chromium and its driver (Debian packages) and Selenium (the scrape extra, absent from the device stage)."""
    browser = pytest.mark.skipif(not HAVE_BROWSER, reason="apt-get install chromium chromium-driver")
    return pytest.mark.workstation(browser(test))


VALID = ("a.png", "b.png", "c.png", "dup-a.png")


def png(query: str, name: str, size: int = 64) -> bytes:
    seed = int(hashlib.sha256(f"{query}/{name}".encode()).hexdigest()[:8], 16)
    face = draw_face("happy", size, np.random.default_rng(seed))
    return cv2.imencode(".png", cv2.cvtColor(face, cv2.COLOR_RGB2BGR))[1].tobytes()


def results_page(query: str) -> str:
    data_url = "data:image/png;base64," + base64.b64encode(png(query, "inline")).decode()
    fulls = [f"/img/{q}/{name}" for q, name in ((query, n) for n in VALID)] + [
        "/img/dup-b.png?q=" + query, "/missing.jpg", "/fake.jpg", "/big.png", "/slow.png", "/loop"]
    thumbs = "".join(f'<div data-ri="{i}"><img src="/thumb/{i}.png" data-full="{url}"></div>'
                     for i, url in enumerate(fulls))
    thumbs += f'<div data-ri="{len(fulls)}"><img src="{data_url}"></div>'
    return f"""<html><body>
<div id="consent" style="position:fixed;top:0;left:0;width:100%;height:100%;background:#fff;z-index:10">
 <form action="/consent"><button id="L2AGLb" type="button"
   onclick="document.getElementById('consent').remove()">Accept all</button></form></div>
<div id="results">{thumbs}</div><div id="preview"><img class="sFlh5c" alt="preview"></div>
<script>
document.querySelectorAll('div[data-ri] img').forEach(img => img.addEventListener('click', () => {{
  if (img.dataset.full) document.querySelector('img.sFlh5c').src = img.dataset.full; }}));
</script></body></html>"""


class Handler(http.server.BaseHTTPRequestHandler):
    big = b""

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", kind="image/png", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        from urllib.parse import parse_qs, unquote, urlparse

        url = urlparse(self.path)
        query = parse_qs(url.query).get("q", [""])[0]
        parts = unquote(url.path).split("/")
        if url.path == "/search":
            self.send(200, results_page(query).encode(), "text/html")
        elif url.path.startswith("/thumb/"):
            self.send(200, png("thumb", parts[-1], 24))
        elif url.path == "/img/dup-b.png":
            self.send(200, png(query, "dup-a.png"))
        elif url.path.startswith("/img/"):
            self.send(200, png(parts[2], parts[3]))
        elif url.path == "/fake.jpg":
            self.send(200, b"<html>not found</html>", "text/html")
        elif url.path == "/big.png":
            self.send(200, Handler.big)
        elif url.path == "/slow.png":
            time.sleep(4.0)
            self.send(200, png("slow", "slow"))
        elif url.path == "/loop":
            self.send(302, headers=[("Location", "/loop")])
        else:
            self.send(404, b"missing", "text/plain")


@pytest.fixture(scope="module")
def server():
    Handler.big = cv2.imencode(".png", np.random.default_rng(1).integers(0, 256, (300, 300, 3), np.uint8))[1].tobytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def options(server, **kwargs) -> ScrapeOptions:
    # Generous waits for what must succeed (a busy 2-core machine), a short download timeout for /slow.png.
    profile = replace(GOOGLE_IMAGES, preview_wait_s=3.0, scroll_pause_s=0.2)
    fetch = FetchOptions(timeout_s=1.5, max_bytes=100_000)
    base = dict(per_class=10, classes=("anger", "happiness"), base_url=server, delay_s=0.0, profile=profile, fetch=fetch)
    return ScrapeOptions(**{**base, **kwargs})


def files(root: Path) -> dict[str, list[str]]:
    return {d.name: sorted(p.name for p in d.iterdir()) for d in sorted(root.iterdir()) if d.is_dir()}


@needs_browser
def test_keeps_exactly_the_valid_distinct_images(server, tmp_path):
    summary = scrape(tmp_path, options(server))
    assert summary.kept == {"anger": 5, "happiness": 5}  # a, b, c, dup-a and the inline thumbnail
    assert summary.duplicates == 2
    assert summary.rejected == {"http 404": 2, "not an image (content-type text/html)": 2, "too large": 2,
                                "timeout": 2, "redirect loop": 2}
    kept = files(tmp_path)
    assert [len(v) for v in kept.values()] == [5, 5]
    for label, names in kept.items():
        for name in names:
            data = (tmp_path / label / name).read_bytes()
            assert name == f"{hashlib.sha256(data).hexdigest()[:20]}.png"
    records = [json.loads(line) for line in (tmp_path / MANIFEST).read_text().splitlines()]
    assert {"class", "query", "source_url", "page_url", "sha256", "status", "time"} <= set(records[0])
    assert records[0]["query"] == "anger facial expression"


@needs_browser
def test_second_run_adds_nothing_and_interrupted_run_resumes(server, tmp_path):
    first = scrape(tmp_path, options(server, classes=("anger",), max_requests=3))
    assert first.requests == 3 and sum(first.kept.values()) <= 3
    second = scrape(tmp_path, options(server, classes=("anger",)))
    assert sum(first.kept.values()) + sum(second.kept.values()) == 5
    third = scrape(tmp_path, options(server, classes=("anger",)))
    assert third.requests == 0 and third.kept == {"anger": 0}
    assert len(files(tmp_path)["anger"]) == 5
    assert not list(tmp_path.rglob("*.tmp"))


@needs_browser
def test_scraped_folders_feed_extraction_and_training(server, tmp_path):
    from helpers import TINY

    runner = CliRunner()
    result = runner.invoke(cli, ["scrape", "--out", str(tmp_path / "data"), "--per-class", "5", "--classes",
                                 "anger,happiness", "--base-url", server, "--delay", "0", "--timeout", "1.5",
                                 "--max-bytes", "100000"])
    assert result.exit_code == 0, result.output
    assert "kept" in result.output and "redirect loop" in result.output
    result = runner.invoke(cli, ["extract-faces", str(tmp_path / "data"), str(tmp_path / "crops"),
                                 "--detector", "none", "--size", "32"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["train", str(tmp_path / "crops"), "--out", str(tmp_path / "run"), "--arch", TINY,
                                 "--epochs", "1", "--image-size", "32", "--val-fraction", "0.2"])
    assert result.exit_code == 0, result.output


@pytest.mark.workstation
def test_missing_driver_names_the_fix(tmp_path):
    with pytest.raises(FerEdgeError, match="apt install chromium chromium-driver"):
        scrape(tmp_path, ScrapeOptions(driver_path=str(tmp_path / "nope")))


def test_missing_selenium_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "selenium", None)  # as on an install without the scrape extra
    with pytest.raises(MissingDependencyError, match=r'selenium is not installed; .*pip install "fer-edge\[scrape\]"'):
        scrape(tmp_path, ScrapeOptions(classes=("anger",)))
    result = CliRunner().invoke(cli, ["scrape", "--out", str(tmp_path / "d"), "--classes", "anger"])
    assert result.exit_code == 1 and result.output.startswith("Error: selenium is not installed")


def test_fetch_rejects_bad_data_urls_and_schemes():
    with pytest.raises(Rejected, match="unsupported URL scheme"):
        fetch_image("file:///etc/passwd")
    with pytest.raises(Rejected, match="not an image"):
        fetch_image("data:text/html;base64," + base64.b64encode(b"<html>").decode())
    with pytest.raises(Rejected, match="corrupt image"):
        fetch_image("data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 40).decode())


def test_profiles_load_from_json(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"thumbnail": "img.result"}))
    assert load_profile(path).thumbnail == "img.result"
    assert load_profile(path).full_image == GOOGLE_IMAGES.full_image
    path.write_text(json.dumps({"thumbs": "x"}))
    with pytest.raises(FerEdgeError, match="unknown keys"):
        load_profile(path)
    assert json.loads(GOOGLE_IMAGES.to_json())["name"] == "google-images"
    shutil.rmtree(tmp_path)


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.com", "http://", "file:///etc/passwd"])
def test_base_url_must_be_an_http_url(url, tmp_path):
    result = CliRunner().invoke(cli, ["scrape", "--out", str(tmp_path / "data"), "--base-url", url])
    assert result.exit_code == 1 and result.output.startswith("Error: --base-url must be an http(s) URL")
    assert "Traceback" not in result.output and not (tmp_path / "data").exists()


@needs_browser
def test_unreachable_or_silent_servers_are_clean_errors(tmp_path):
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    try:
        for base, message in ((f"http://127.0.0.1:{port}", "Error: cannot reach"),
                              (f"http://127.0.0.1:{silent.getsockname()[1]}", "Error: cannot reach")):
            start = time.monotonic()
            result = CliRunner().invoke(cli, ["scrape", "--out", str(tmp_path / "data"), "--per-class", "1",
                                              "--classes", "anger", "--base-url", base, "--timeout", "2",
                                              "--page-timeout", "3"])
            assert result.exit_code == 1 and result.output.startswith(message), result.output
            assert "Traceback" not in result.output and time.monotonic() - start < 30
    finally:
        silent.close()


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan")])
def test_page_timeout_must_be_positive(seconds):
    with pytest.raises(FerEdgeError, match="--page-timeout must be positive"):
        ScrapeOptions(page_timeout_s=seconds)


@pytest.mark.parametrize("classes, message", [
    ((), "--classes names no class"),
    (("happy", "a/b"), r"class names become folder names: 'a/b' cannot be one"),
    (("..",), r"class names become folder names: '\.\.' cannot be one"),
    ((".hidden",), r"'\.hidden' cannot be one"),
    (("a\\b",), r"cannot be one"),
    (("",), r"'' cannot be one"),
    (("happy", "sad", "happy"), "--classes names happy more than once"),
])
def test_class_names_must_be_plain_distinct_folders(classes, message):
    with pytest.raises(FerEdgeError, match=message):
        ScrapeOptions(classes=classes)


@pytest.mark.parametrize("classes, message", [(",,,", "Error: --classes names no class"),
                                              ("happy,a/b", "Error: class names become folder names: 'a/b'"),
                                              ("..", "Error: class names become folder names: '..'")])
def test_scrape_refuses_bad_class_names_before_starting_a_browser(tmp_path, classes, message):
    result = CliRunner().invoke(cli, ["scrape", "--out", str(tmp_path / "out"), "--classes", classes,
                                      "--driver", str(tmp_path / "no-driver")])
    assert result.exit_code == 1 and result.output.startswith(message), result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
