"""Data Docs that work on an intranet: point GX's pages at local copies of the assets they load from CDNs.

GX 1.24 writes jQuery, Bootstrap, bootstrap-table, Vega, Font Awesome … as CDN addresses into every page (its
templates take no setting for it, and custom views cannot replace a built-in template), and its index draws
the list of validations with them: offline, the index is blank. After each build of the site, the pages are
rewritten to load the copies that `make install` fetched into vendor/web-assets (infra/web_assets.py, locked
in infra/web_assets.lock.json), copied under the site's own `static/vendor/`, so the site stays one folder
that can be moved or served as it is. GX's logo comes from its own static images.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from functools import cache
from pathlib import Path

from telco360.config import PROJECT_ROOT

log = logging.getLogger("telco360.quality")
LOCK = PROJECT_ROOT / "infra" / "web_assets.lock.json"
VENDOR = PROJECT_ROOT / "vendor" / "web-assets"
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
LOCAL_LOGO = "static/images/logo-long.png"  # shipped by GX, copied into every site

# what a browser would load by itself: scripts, stylesheets, images, CSS url()s
EXTERNAL_LOAD = re.compile(
    r"""<script[^>]*\ssrc=["']https?://|<link[^>]*\shref=["']https?://|<img[^>]*\ssrc=["']https?://|url\(['"]?https?://"""
)


@cache
def _urls() -> dict[str, str]:
    return json.loads(LOCK.read_text())["urls"]


@cache
def _pattern() -> re.Pattern:
    cdn = "|".join(re.escape(u) for u in sorted(_urls(), key=len, reverse=True))
    # the local copy is not cross-origin: drop the SRI and CORS attributes some tags carry (a file:// page
    # would refuse a crossorigin load); the copies were checked against the lock's hashes when fetched
    return re.compile(
        rf"""(?P<url>{cdn})(?P<end>["'])(?:\s+integrity="[^"]*")?(?:\s+crossorigin="[^"]*")?"""
        rf"""|{re.escape(GX_IMAGES)}[^"')\s]*"""
    )


def localize(site: Path) -> list[Path]:
    """Rewrite the Data Docs pages under `site` to load local assets; return the pages that still load
    something from outside (empty when the site works offline)."""
    if not VENDOR.is_dir():
        log.warning("Data Docs will need internet access: no %s (run `make install`)", VENDOR)
        return []
    _copy_tree(VENDOR, site / "static" / "vendor")
    still_external = []
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        up = os.path.relpath(site, page.parent)

        def local(m: re.Match, up=up) -> str:
            if m.group("url") is None:
                return f"{up}/{LOCAL_LOGO}"
            return f"{up}/static/vendor/{_urls()[m.group('url')]}{m.group('end')}"

        new = _pattern().sub(local, text)
        if new != text:
            page.write_text(new, encoding="utf-8")
        if EXTERNAL_LOAD.search(new):
            still_external.append(page)
    if still_external:
        log.warning("Data Docs pages still load from the internet (a new CDN asset?): %s", still_external[:3])
    return still_external


def _copy_tree(source: Path, dest: Path) -> None:
    """Copy what is missing or changed (the vendored files are ~3.4 MB; most runs copy nothing)."""
    for src in source.rglob("*"):
        if src.is_file():
            out = dest / src.relative_to(source)
            if not out.exists() or out.stat().st_size != src.stat().st_size:
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out)
