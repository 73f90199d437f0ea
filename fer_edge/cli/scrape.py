"""The `fer-edge scrape` command: build class folders from an image search, with a real browser."""

from __future__ import annotations

from pathlib import Path

import click

from fer_edge.cli._common import FiniteFloatRange, format_table


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Dataset folder: images go to OUT/<class>/<hash>.<ext>.")
@click.option("--per-class", default=100, show_default=True, type=click.IntRange(min=1),
              help="Top every class up to this many images.")
@click.option("--classes", default=None, help="Comma-separated class names (default: the paper's seven).")
@click.option("--query-template", default="{label} facial expression", show_default=True)
@click.option("--base-url", default="https://www.google.com", show_default=True)
@click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSON selector profile (default: Google Images).")
@click.option("--driver", default="/usr/bin/chromedriver", show_default=True, help="chromedriver path.")
@click.option("--browser", default="/usr/bin/chromium", show_default=True, help="Chromium path.")
@click.option("--delay", default=1.0, show_default=True, type=FiniteFloatRange(min=0), help="Seconds between downloads.")
@click.option("--max-requests", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--timeout", default=10.0, show_default=True, type=FiniteFloatRange(min=0.1),
              help="Seconds one image download may take.")
@click.option("--page-timeout", default=30.0, show_default=True, type=FiniteFloatRange(min=0.1),
              help="Seconds a results page may take to load before the site counts as unreachable.")
@click.option("--max-bytes", default=10 * 2**20, show_default=True, type=click.IntRange(min=1024))
@click.option("--user-agent", default=None, help="User agent for the browser and downloads.")
@click.option("--phash", is_flag=True, help="Also drop near-duplicates (perceptual hash).")
def scrape(out, per_class, classes, query_template, base_url, profile, driver, browser, delay, max_requests,
           timeout, page_timeout, max_bytes, user_agent, phash):
    """Collect images per class from an image search with headless Chromium (Selenium).

    Resumable: OUT/scrape_manifest.jsonl records every candidate, so a re-run only tops up.

    Example: fer-edge scrape --out data/ --per-class 200 --classes anger,happiness
    """
    from fer_edge.scrape.crawler import PAPER_CLASSES, ScrapeOptions, scrape as run
    from fer_edge.scrape.fetch import FetchOptions
    from fer_edge.scrape.profile import load_profile

    names = tuple(c.strip() for c in classes.split(",") if c.strip()) if classes else PAPER_CLASSES
    if "{label}" not in query_template:
        raise click.BadParameter("must contain {label}", param_hint="--query-template")
    fetch = FetchOptions(timeout, max_bytes, user_agent or FetchOptions().user_agent)
    options = ScrapeOptions(per_class, names, query_template, base_url, delay, max_requests, phash, fetch,
                            load_profile(profile), driver, browser, page_timeout)
    summary = run(out, options, progress=True)
    rows = [[label, str(count)] for label, count in summary.kept.items()]
    click.echo(format_table(rows, ["class", "kept"]))
    click.echo(f"duplicates {summary.duplicates}, downloads {summary.requests}")
    for reason, count in sorted(summary.rejected.items()):
        click.echo(f"rejected ({reason}): {count}")


COMMANDS = (scrape,)
