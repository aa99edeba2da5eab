"""Take a full-page, 1280-pixel-wide screenshot of an HTML report with headless Chromium.

Usage: python docs/screenshot.py out/report.html docs/report.png [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot(
    html: Path, png: Path, chromium: str = "/usr/bin/chromium", width: int = 1280
) -> None:
    """Open ``html`` from disk and save a full-page PNG of it to ``png``."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.goto(html.resolve().as_uri(), wait_until="load")
            png.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the report.html to open")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in pixels")
    args = parser.parse_args()
    screenshot(args.html, args.png, args.chromium, args.width)


if __name__ == "__main__":
    main()
