"""Selector profiles: where a search results page keeps its consent button, thumbnails and full images.

When Google changes its markup, update the profile (or pass `--profile my.json`); the crawler
does not change. Selectors are CSS.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from fer_edge.errors import FerEdgeError


@dataclass(frozen=True)
class SelectorProfile:
    """A search engine's image results page.

    Attributes:
        name: a label for logs.
        search_url: URL template with `{base}` and `{query}` (URL-encoded).
        consent_button: the "accept" button of a cookie-consent interstitial, if one shows.
        thumbnail: each result thumbnail; clicking it opens the preview.
        full_image: the full-size image in the preview pane once a thumbnail is clicked.
        preview_wait_s: how long to wait for the preview's full-size URL before using the thumbnail.
        scroll_pause_s: pause after scrolling for more results to load.
    """

    name: str = "google-images"
    search_url: str = "{base}/search?tbm=isch&q={query}"
    consent_button: str = "button#L2AGLb, form[action*='consent'] button[aria-label*='Accept']"
    thumbnail: str = "div[data-ri] img, div.eA0Zlc img, g-img img"
    full_image: str = "img.sFlh5c, img.iPVvYb, img.n3VNCb"
    preview_wait_s: float = 3.0
    scroll_pause_s: float = 1.0

    def to_json(self) -> str:
        """The profile as JSON (a starting point for a custom one)."""
        return json.dumps(asdict(self), indent=2)


GOOGLE_IMAGES = SelectorProfile()


def load_profile(path: str | Path | None) -> SelectorProfile:
    """The default Google Images profile, or one read from a JSON file (missing keys keep defaults).

    Raises:
        FerEdgeError: unreadable file or unknown keys.
    """
    if path is None:
        return GOOGLE_IMAGES
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise FerEdgeError(f"cannot read selector profile {path}: {exc}") from exc
    known = {f.name for f in fields(SelectorProfile)}
    unknown = set(data) - known
    if unknown:
        raise FerEdgeError(f"unknown keys in selector profile {path}: {sorted(unknown)}; known: {sorted(known)}")
    return SelectorProfile(**data)
