"""dbt docs (`make docs-serve`, after `telco360 docs`) with no network: customer_360, its lineage graph, and
the brands' Chinese names drawn with a CJK font (not as .notdef boxes)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from .conftest import CHROMIUM, VIEWPORT, OfflinePage

pytestmark = pytest.mark.e2e

MODEL = "model.telco360.customer_360"
BRANDS = "全球通", "动感地带", "神州行"

# Each Chinese character of the brands drawn alone on a canvas in the page's own font, next to a code point
# no font has (U+0378, unassigned): it draws the .notdef box. With no CJK font, every Chinese character is that
# same box; with one, each has its own glyph.
MEASURE_GLYPHS = """([el, chars]) => {
  const family = getComputedStyle(el).fontFamily;
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = ch => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = `40px ${family}`;
    ctx.textBaseline = 'top';
    ctx.fillText(ch, 8, 8);
    const alpha = ctx.getImageData(0, 0, 64, 64).data.filter((_, i) => i % 4 === 3);
    let ink = 0, hash = 0;
    alpha.forEach((a, i) => { if (a > 0) { ink += 1; hash = (hash * 31 + i * 7 + a) % 2147483647; } });
    return {ink, hash};
  };
  return {family, notdef: draw('\\u0378'), chars: Object.fromEntries(chars.map(ch => [ch, draw(ch)]))};
}"""


def open_customer_360(page, url: str):
    page.goto(f"{url}/#!/model/{MODEL}")
    page.locator("h1", has_text="customer_360").wait_for(timeout=30_000)
    brand = page.locator("tr", has_text="GOTONE (全球通)").first
    brand.wait_for()
    return brand


def glyphs(page, element) -> dict:
    chars = sorted(set("".join(BRANDS)))
    return page.evaluate(MEASURE_GLYPHS, [element.element_handle(), chars])


def platform_fonts(page, selector: str) -> dict[str, int]:
    """The fonts Chromium really drew the element's text with (DevTools' CSS.getPlatformFontsForNode):
    family -> glyphs drawn."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return {f["familyName"]: f["glyphCount"] for f in fonts}


def tofu(measured: dict) -> list[str]:
    """The Chinese characters drawn as the .notdef box (or not at all)."""
    chars = measured["chars"]
    same_as_others = {c for c in chars if sum(chars[o] == chars[c] for o in chars) > 1}
    return sorted(c for c, g in chars.items() if g == measured["notdef"] or g["ink"] < 40 or c in same_as_others)


def brand_description(page, brand_row):
    """Open the brand column's row (people click it to read the whole description) and return the text."""
    brand_row.click()
    text = page.locator("td.column-expanded").get_by_text("GOTONE (全球通)").first
    text.wait_for()
    text.evaluate("e => e.setAttribute('data-e2e', 'brand')")
    return text


def test_customer_360_and_its_lineage_graph(demo, dbt_docs_url, offline, shots):
    url, _ = dbt_docs_url
    manifest = json.loads((demo.dbt_target / "manifest.json").read_text())
    nodes = {**manifest["nodes"], **manifest["sources"]}
    parents = {nodes[p]["name"] for p in manifest["parent_map"][MODEL]}
    children = {manifest["nodes"][c]["name"] for c in manifest["child_map"][MODEL] if c.startswith("model.")}
    assert "int_billing__monthly" in parents and "ml_features" in children
    page = offline.page
    open_customer_360(page, url)
    assert "Grain: one row per subscriber per month" in page.locator("body").inner_text()
    page.locator("[title='View Lineage Graph']").click()
    page.locator(".launcher-content", has_text="Lineage Graph").wait_for()
    page.locator("[title='View Fullscreen']").first.click()
    page.wait_for_function(
        "() => angular.element(document.querySelector('.launcher-content')).scope().graphService.loaded"
        " && document.querySelectorAll('#cy canvas, .graph canvas, canvas').length > 0"
    )
    drawn = page.evaluate(
        "() => angular.element(document.querySelector('.launcher-content')).scope()"
        ".graphService.graph.elements.filter(e => e.data && e.data.label).map(e => e.data.label)"
    )
    # the graph drawn is customer_360 with every model, seed and source it reads and every model reading it
    assert "customer_360" in drawn
    assert parents - {"load_manifest"} <= set(drawn), parents - set(drawn)
    assert children <= set(drawn), children - set(drawn)
    selection = page.evaluate("() => [...document.querySelectorAll('.launcher-content input')].map(i => i.value)")
    assert "+customer_360+" in selection, selection
    page.mouse.move(5, 790)  # no tooltip over the graph
    page.wait_for_timeout(1000)  # the graph's layout animation
    page.screenshot(path=str(shots / "dbt-docs-lineage.png"))
    assert offline.left_the_machine == []


def test_the_brands_chinese_names_are_drawn_with_a_cjk_font(demo, dbt_docs_url, offline, shots):
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    assert listed.strip(), "no font for Chinese: apt-get install -y fonts-noto-cjk (.ci/run does)"
    url, _ = dbt_docs_url
    page = offline.page
    brand = open_customer_360(page, url)
    cell = brand_description(page, brand)
    assert all(name in cell.inner_text() for name in BRANDS)
    fonts = platform_fonts(page, "[data-e2e=brand]")
    cjk = {family: n for family, n in fonts.items() if "CJK" in family}
    assert sum(cjk.values()) >= len("".join(BRANDS)), fonts
    measured = glyphs(page, cell)
    assert tofu(measured) == [], measured
    page.evaluate("window.scrollBy(0, -300)")
    page.wait_for_timeout(200)
    page.screenshot(path=str(shots / "dbt-docs-chinese-brands.png"))
    assert offline.left_the_machine == []


def test_without_a_cjk_font_the_check_sees_boxes(demo, dbt_docs_url, playwright, tmp_path):
    """The check above can fail: the same page in a Chromium whose fontconfig hides every Chinese font."""
    files = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True).stdout.split()
    files = [f.rstrip(":") for f in files]
    assert files
    conf = tmp_path / "fonts.conf"
    rejected = "".join(f"<glob>{f}</glob>" for f in files)
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<selectfont><rejectfont>{rejected}</rejectfont></selectfont></fontconfig>"
    )
    url, _ = dbt_docs_url
    browser = playwright.chromium.launch(executable_path=CHROMIUM, env={**os.environ, "FONTCONFIG_FILE": str(conf)})
    try:
        page = OfflinePage(browser.new_context(viewport=VIEWPORT)).page
        cell = brand_description(page, open_customer_360(page, url))
        fonts = platform_fonts(page, "[data-e2e=brand]")
        assert not any("CJK" in family for family in fonts), fonts
        measured = glyphs(page, cell)
        assert tofu(measured) == sorted(set("".join(BRANDS))), measured
    finally:
        browser.close()
