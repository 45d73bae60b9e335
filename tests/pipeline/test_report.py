"""The report the pipeline writes last, opened as a user opens it: a real headless Chromium, offline."""

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest

from visionops.headlines import FAMILIES
from visionops.report import figure_files

pytestmark = pytest.mark.slow


def _open_offline(page_file, screenshot, charts: int = 0):
    """Open a page in headless Chromium; what a user's browser would show and complain about. `charts`: Vega charts
    to wait for (they are drawn by scripts after the page's load event)."""
    from playwright.sync_api import TimeoutError as PageTimeout
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "no Chromium: apt-get install chromium (the README's set-up command does)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        seen = {"errors": [], "fetched": []}
        page.on("console", lambda message: seen["errors"].append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: seen["errors"].append(str(error)))
        page.on("request", lambda request: seen["fetched"].append(request.url))
        page.goto(page_file.as_uri(), wait_until="load")  # every image and script the markup names
        # not "networkidle": on the two-chart `dvc plots` page Chromium 156 sometimes never reports it (measured
        # here: one try idle after 1.3 s, the next not within 60 s)
        if charts:
            with contextlib.suppress(PageTimeout):  # too few charts: the caller's assertion says so
                page.wait_for_function(
                    f"document.querySelectorAll('.vega-embed .marks').length >= {charts}", timeout=30_000
                )
        seen["images"] = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        seen["charts"] = page.locator(".vega-embed .marks").count()  # what Vega drew (canvas or svg)
        seen["headings"] = page.locator("h2").all_inner_texts()
        seen["header"] = page.locator("p.run").all_inner_texts()
        page.screenshot(path=str(screenshot))
        browser.close()
    seen["network"] = [url for url in seen["fetched"] if not url.startswith(("file:", "data:"))]
    return seen


def test_the_report_opens_offline_with_every_figure_loaded_and_no_console_error(tiny_pipeline, tmp_path):
    project, outcome = tiny_pipeline
    assert outcome["report"] == "ran"
    page_file = tmp_path / "index.html"  # alone in a folder: whatever it shows must be inside it
    shutil.copy(project / "reports" / "index.html", page_file)
    expected = sum(len(figure_files(project / "reports", family)) for family in FAMILIES)
    seen = _open_offline(page_file, tmp_path / "report.png")
    assert seen["errors"] == []
    assert len(seen["images"]) == expected >= 20 and all(seen["images"])  # every family's figures, each decoded
    assert seen["network"] == []  # nothing from the network
    assert seen["headings"] == [family.title for family in FAMILIES]
    assert "budget tiny" in seen["header"][0] and "commit" in seen["header"][0]
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_dvc_plots_render_offline(tiny_pipeline, tmp_path):
    """`dvc plots show` as the README says; the Vega libraries come from the project's page template, not a CDN."""
    import yaml

    project, _ = tiny_pipeline
    out = tmp_path / "dvc_plots"
    shown = subprocess.run(["dvc", "plots", "show", "-o", str(out)], cwd=project, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    plots = yaml.safe_load((project / "dvc.yaml").read_text())["plots"]
    series = [plot for plot in plots if isinstance(plot, dict)]  # data files drawn by Vega; the rest are images
    seen = _open_offline(out / "index.html", tmp_path / "plots.png", charts=len(series))
    assert seen["errors"] == [] and seen["network"] == []
    assert seen["charts"] == len(series) >= 2
    assert len(seen["images"]) == len(plots) - len(series) and all(seen["images"])


def test_a_family_whose_reports_are_missing_says_so(tmp_path):
    from visionops.report import render

    page = render(tmp_path, commit="0123456789abcdef", budget="cpu", data_version="unlocked")
    assert page.count("not run yet") == len(FAMILIES) and "<img" not in page
    assert "<title>visionops report: cpu 0123456</title>" in page


def test_dvc_metrics_show_is_one_short_row_per_model(tiny_pipeline):
    """The headline files are dvc.yaml's only metrics: one row per model, the parent run's numbers."""
    import json

    from visionops.headlines import headline_metrics

    project, _ = tiny_pipeline
    shown = subprocess.run(["dvc", "metrics", "show", "--json"], cwd=project, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    files = next(iter(json.loads(shown.stdout).values()))["data"]
    listed = {
        f"{Path(path).stem.split('_', 1)[0]}/{Path(path).stem.split('_', 1)[1]}_{metric}": value
        for path, found in files.items()
        for metric, value in found["data"].items()
    }
    assert all(Path(path).parent == Path("reports/headlines") for path in files)
    assert len(files) == 14 and listed == headline_metrics(project / "reports")
    table = subprocess.run(["dvc", "metrics", "show"], cwd=project, capture_output=True, text=True).stdout
    assert len(table.splitlines()) == 1 + len(files) and max(map(len, table.splitlines())) < 500
