"""The crawler: a real browser (Selenium 4, headless Chromium) collects image URLs per class;
verified images are saved atomically as `DATA/<class>/<hash>.<ext>`, recorded in a resumable manifest.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import quote_plus, urlparse

from fer_edge.errors import FerEdgeError, MissingDependencyError
from fer_edge.files import write_atomic
from fer_edge.scrape.fetch import FetchOptions, Rejected, fetch_image
from fer_edge.scrape.profile import GOOGLE_IMAGES, SelectorProfile

logger = logging.getLogger(__name__)

PAPER_CLASSES = ("anger", "confusion", "contempt", "crying", "sadness", "disgust", "happiness")
MANIFEST = "scrape_manifest.jsonl"


@dataclass(frozen=True)
class ScrapeOptions:
    """What to collect, and how politely.

    Attributes:
        per_class: top each class folder up to this many images.
        classes: class names (folder names), the paper's seven by default.
        query_template: search query; `{label}` becomes the class name.
        base_url: search engine base URL (tests point it at a local server).
        delay_s: pause between downloads.
        max_requests: stop after this many downloads in one run.
        perceptual_dedup: also drop near-identical images (average hash within 4 bits).
        fetch: download limits and user agent.
        page_timeout_s: how long a results page may take to load before the search engine counts as
            unreachable (a browser on a busy machine can need seconds for a local page).
        profile: where the results page keeps things.
        driver_path: chromedriver executable.
        browser_path: Chromium executable.
    """

    per_class: int = 100
    classes: tuple[str, ...] = PAPER_CLASSES
    query_template: str = "{label} facial expression"
    base_url: str = "https://www.google.com"
    delay_s: float = 1.0
    max_requests: int = 1000
    perceptual_dedup: bool = False
    fetch: FetchOptions = field(default_factory=FetchOptions)
    profile: SelectorProfile = GOOGLE_IMAGES
    driver_path: str = "/usr/bin/chromedriver"
    browser_path: str = "/usr/bin/chromium"
    page_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        _check_class_names(self.classes)
        if not self.page_timeout_s > 0:
            raise FerEdgeError(f"--page-timeout must be positive, got {self.page_timeout_s}")
        parsed = urlparse(self.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise FerEdgeError(f"--base-url must be an http(s) URL such as https://www.google.com, "
                               f"got {self.base_url!r}")


def _check_class_names(classes: tuple[str, ...]) -> None:
    """Class names become folders under OUT: refuse none, repeats, and names that are not one plain folder."""
    if not classes:
        raise FerEdgeError("--classes names no class; pass comma-separated names such as anger,happiness")
    for name in classes:
        if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
            raise FerEdgeError(f"class names become folder names: {name!r} cannot be one "
                               "(no '/', '\\', leading '.' or empty name)")
    repeated = sorted({name for name in classes if classes.count(name) > 1})
    if repeated:
        raise FerEdgeError(f"--classes names {', '.join(repeated)} more than once")


@dataclass(frozen=True)
class ScrapeSummary:
    """Counts of one run: kept per class, duplicates, and rejections by reason."""

    kept: dict[str, int]
    duplicates: int
    rejected: dict[str, int]
    requests: int


def start_browser(options: ScrapeOptions, profile_dir: str):
    """Headless Chromium through the system chromedriver (never Selenium Manager downloads).

    Raises:
        MissingDependencyError: Selenium is not installed (the `scrape` extra).
        FerEdgeError: chromedriver or Chromium is missing, or Chromium does not start.
    """
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ModuleNotFoundError as exc:
        raise MissingDependencyError("selenium", "scrape") from exc

    for path, what in ((options.driver_path, "chromedriver"), (options.browser_path, "Chromium")):
        if not (Path(path).exists() or shutil.which(path)):
            raise FerEdgeError(f"{what} not found at {path}: install it with `sudo apt install chromium "
                               "chromium-driver` or pass --driver/--browser")
    chrome = webdriver.ChromeOptions()
    chrome.binary_location = options.browser_path
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", f"--user-data-dir={profile_dir}", f"--user-agent={options.fetch.user_agent}",
                 "--window-size=1280,1600"):
        chrome.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=options.driver_path), options=chrome)
    except WebDriverException as exc:
        raise FerEdgeError(f"cannot start Chromium through {options.driver_path}: {exc.msg}") from exc
    driver.set_page_load_timeout(options.page_timeout_s)
    return driver


def open_results_page(driver, page_url: str, base_url: str) -> None:
    """Load a results page; an unreachable or silent server is an error, not an empty page.

    Raises:
        FerEdgeError: the page did not load within the page-load timeout, or the browser showed
            its own error page (refused connection, unknown host).
    """
    from selenium.common.exceptions import WebDriverException

    try:
        driver.get(page_url)
        shown = driver.execute_script("return document.documentURI") or ""
    except WebDriverException as exc:
        reason = (exc.msg or type(exc).__name__).splitlines()[0]
        raise FerEdgeError(f"cannot reach {base_url}: loading {page_url} failed ({reason})") from exc
    if shown.startswith("chrome-error:"):
        raise FerEdgeError(f"cannot reach {base_url}: the browser could not load {page_url}")


def accept_consent(driver, profile: SelectorProfile) -> bool:
    """Click the consent interstitial's accept button when it is shown."""
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.CSS_SELECTOR, profile.consent_button):
        if button.is_displayed():
            button.click()
            logger.info("accepted the consent interstitial")
            return True
    return False


def _preview_sources(driver, profile: SelectorProfile) -> set[str]:
    from selenium.webdriver.common.by import By

    return {image.get_attribute("src") or "" for image in driver.find_elements(By.CSS_SELECTOR, profile.full_image)}


def _full_size_url(driver, profile: SelectorProfile, thumbnail_src: str, before: set[str]) -> str | None:
    """The preview's new full-size http(s) URL after a click, or None when none appears in time."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def found(d):
        for src in _preview_sources(d, profile):
            if src.startswith("http") and src != thumbnail_src and src not in before:
                return src
        return False

    try:
        return WebDriverWait(driver, profile.preview_wait_s, poll_frequency=0.1).until(found)
    except TimeoutException:
        return None


def candidate_urls(driver, profile: SelectorProfile) -> Iterator[str]:
    """Full-size image URLs, clicking through results and scrolling for more; thumbnails as a fallback."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    seen, stale_scrolls = 0, 0
    while stale_scrolls < 2:
        thumbnails = driver.find_elements(By.CSS_SELECTOR, profile.thumbnail)
        if len(thumbnails) <= seen:
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
            time.sleep(profile.scroll_pause_s)
            stale_scrolls += 1
            continue
        stale_scrolls = 0
        for thumbnail in thumbnails[seen:]:
            src = thumbnail.get_attribute("src") or ""
            before = _preview_sources(driver, profile)
            try:
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", thumbnail)
                thumbnail.click()
            except WebDriverException:
                logger.debug("could not click a thumbnail; using its own source")
            url = _full_size_url(driver, profile, src, before) or src
            if url:
                yield url
        seen = len(thumbnails)


class Manifest:
    """The JSON-lines record of every candidate, so re-runs skip what they have seen."""

    def __init__(self, path: Path):
        self.path = path
        self.records = []
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    self.records.append(json.loads(line))
                except ValueError:
                    logger.warning("ignoring a damaged line in %s", path)

    def seen_urls(self, label: str) -> set[str]:
        return {r["source_url"] for r in self.records if r["class"] == label}

    def hashes(self) -> dict[str, tuple[str, int]]:
        return {r["sha256"]: (r["class"], r.get("average_hash", 0)) for r in self.records if r["status"] == "kept"}

    def kept(self, label: str) -> int:
        return sum(1 for r in self.records if r["class"] == label and r["status"] == "kept")

    def append(self, record: dict) -> None:
        self.records.append(record)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def _is_duplicate(image, manifest: Manifest, perceptual: bool) -> bool:
    known = manifest.hashes()
    if image.sha256 in known:
        return True
    return perceptual and any(bin(image.average_hash ^ h).count("1") <= 4 for _, h in known.values())


def _process(url: str, label: str, query: str, page_url: str, out: Path, manifest: Manifest,
             options: ScrapeOptions, counts: Counter) -> None:
    base = {"class": label, "query": query, "source_url": url[:2000], "page_url": page_url, "time": time.time()}
    try:
        image = fetch_image(url, options.fetch)
    except Rejected as reason:
        counts[f"rejected: {reason}"] += 1
        manifest.append({**base, "status": "rejected", "reason": str(reason), "sha256": None})
        return
    record = {**base, "sha256": image.sha256, "bytes": len(image.data), "average_hash": image.average_hash}
    if _is_duplicate(image, manifest, options.perceptual_dedup):
        counts["duplicate"] += 1
        manifest.append({**record, "status": "duplicate"})
        return
    target = out / label / f"{image.sha256[:20]}.{image.extension}"
    write_atomic(target, image.data)
    manifest.append({**record, "status": "kept", "file": str(target.relative_to(out))})
    counts["kept"] += 1


def _scrape_class(driver, label: str, out: Path, manifest: Manifest, options: ScrapeOptions, budget: int,
                  progress: bool) -> tuple[Counter, int]:
    """Collect up to the missing images of one class; returns its counts and the downloads made."""
    from tqdm import tqdm

    counts, requests = Counter(), 0
    needed = options.per_class - manifest.kept(label)
    if needed <= 0 or budget <= 0:
        return counts, requests
    query = options.query_template.format(label=label)
    page_url = options.profile.search_url.format(base=options.base_url.rstrip("/"), query=quote_plus(query))
    open_results_page(driver, page_url, options.base_url)
    accept_consent(driver, options.profile)
    seen = manifest.seen_urls(label)
    with tqdm(total=needed, desc=label, unit="img", disable=not progress) as bar:
        for url in candidate_urls(driver, options.profile):
            if url[:2000] in seen:
                continue
            seen.add(url[:2000])
            before = counts["kept"]
            _process(url, label, query, page_url, out, manifest, options, counts)
            requests += 1
            bar.update(counts["kept"] - before)
            if counts["kept"] >= needed or requests >= budget:
                break
            time.sleep(options.delay_s)
    if counts["kept"] < needed:
        logger.warning("%s: only %d of %d new images found", label, counts["kept"], needed)
    return counts, requests


def scrape(out: str | Path, options: ScrapeOptions = ScrapeOptions(), progress: bool = False) -> ScrapeSummary:
    """Top up `out/<class>/` to `options.per_class` images for every class.

    File names come from content hashes, never from URLs; every file is written to a
    temporary name and renamed, so an interrupted run leaves no partial file and the next
    run resumes from `out/scrape_manifest.jsonl` without re-downloading anything it saw.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest, requests, counts_by_class = Manifest(out / MANIFEST), 0, {}
    profile_dir = tempfile.mkdtemp(prefix="fer-edge-chromium-")
    driver = start_browser(options, profile_dir)
    try:
        for label in options.classes:
            (out / label).mkdir(exist_ok=True)
            counts_by_class[label], made = _scrape_class(driver, label, out, manifest, options,
                                                         options.max_requests - requests, progress)
            requests += made
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)
    return _summary(counts_by_class, requests)


def _summary(counts_by_class: dict[str, Counter], requests: int) -> ScrapeSummary:
    rejected: Counter = Counter()
    for counts in counts_by_class.values():
        rejected.update({k.split(": ", 1)[1]: v for k, v in counts.items() if k.startswith("rejected: ")})
    return ScrapeSummary({label: c["kept"] for label, c in counts_by_class.items()},
                         sum(c["duplicate"] for c in counts_by_class.values()), dict(rejected), requests)
