"""The report the pipeline writes last, opened as a user opens it: a real headless Chromium, offline."""

import shutil

import pytest

from visionops.headlines import FAMILIES
from visionops.report import figure_files

pytestmark = pytest.mark.slow


def test_the_report_opens_offline_with_every_figure_loaded_and_no_console_error(tiny_pipeline, tmp_path):
    from playwright.sync_api import sync_playwright

    project, outcome = tiny_pipeline
    assert outcome["report"] == "ran"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "no Chromium: apt-get install chromium (the README's set-up command does)"
    page_file = tmp_path / "index.html"  # alone in a folder: whatever it shows must be inside it
    shutil.copy(project / "reports" / "index.html", page_file)
    expected = sum(len(figure_files(project / "reports", family)) for family in FAMILIES)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors, fetched = [], []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(page_file.as_uri(), wait_until="load")
        loaded = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        headings = page.locator("h2").all_inner_texts()
        header = page.locator("p.run").inner_text()
        page.screenshot(path=str(tmp_path / "report.png"))
        browser.close()
    assert errors == []
    assert len(loaded) == expected >= 20 and all(loaded)  # every family's figures, each decoded
    assert [url for url in fetched if not url.startswith(("file:", "data:"))] == []  # nothing from the network
    assert headings == [family.title for family in FAMILIES]
    assert "budget tiny" in header and "commit" in header
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_a_family_whose_reports_are_missing_says_so(tmp_path):
    from visionops.report import render

    page = render(tmp_path, commit="0123456789abcdef", budget="cpu", data_version="unlocked")
    assert page.count("not run yet") == len(FAMILIES) and "<img" not in page
    assert "<title>visionops report: cpu 0123456</title>" in page
