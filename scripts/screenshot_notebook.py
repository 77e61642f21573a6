#!/usr/bin/env python3
"""Execute examples/quickstart.ipynb against the emulator, render it to HTML and screenshot
it with headless Chromium: writes docs/notebook.png (for the README). Not run in CI.

    python3 -m uv run python scripts/screenshot_notebook.py [--keep-html out.html]

Needs the dev dependencies (nbclient, ipykernel, nbconvert, Pillow) and Chromium
(Debian: ``apt-get update && apt-get install -y chromium``). The page loads nothing from
the network: the exported HTML's scripts (MathJax, require.js, mermaid from a CDN; a
static notebook needs none) are removed, a Content-Security-Policy allows only inline
styles and ``data:`` images, and Chromium resolves no host name.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
OUTPUT = ROOT / "docs" / "notebook.png"
WIDTH = 980
TALL = 6000  # the window's height: more than the page, cropped afterwards
CSP = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; media-src 'none'\">"
)


def execute(notebook: Path) -> object:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    ).execute()
    print(f"executed {notebook.name} in {time.perf_counter() - started:.1f} s")
    return nb


def to_html(nb: object) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
    body = re.sub(r"<script\b.*?</script>", "", body, flags=re.DOTALL | re.IGNORECASE)
    body = re.sub(r"<link\b[^>]*\bhref=\"https?://[^>]*>", "", body, flags=re.IGNORECASE)
    return body.replace("<head>", "<head>" + CSP, 1)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("Chromium not found: apt-get update && apt-get install -y chromium")


def screenshot(html_path: Path, png_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="speedpix-chromium-") as profile:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            "--force-device-scale-factor=1",
            f"--window-size={WIDTH},{TALL}",
            f"--screenshot={png_path}",
            html_path.as_uri(),
        ]
        subprocess.run(command, check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def crop(png_path: Path, target: Path) -> None:
    """Cut the empty space below the page and keep a margin."""
    from PIL import Image, ImageChops

    with Image.open(png_path) as shot:
        image = shot.convert("RGB")
    background = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
    box = ImageChops.difference(image, background).getbbox()
    if box is None:
        sys.exit("the screenshot is blank")
    bottom = min(image.height, box[3] + 24)
    image.crop((0, 0, image.width, bottom)).save(target, optimize=True)
    print(f"wrote {target.relative_to(ROOT)} ({image.width}x{bottom}, {target.stat().st_size // 1024} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep-html", type=Path, help="also write the rendered HTML here")
    args = parser.parse_args()
    html = to_html(execute(NOTEBOOK))
    with tempfile.TemporaryDirectory(prefix="speedpix-notebook-") as scratch:
        html_path = Path(scratch) / "quickstart.html"
        html_path.write_text(html, encoding="utf-8")
        if args.keep_html:
            args.keep_html.write_text(html, encoding="utf-8")
        raw = Path(scratch) / "raw.png"
        screenshot(html_path, raw)
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        crop(raw, OUTPUT)


if __name__ == "__main__":
    main()
