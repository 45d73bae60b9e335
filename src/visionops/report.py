"""`visionops report` and the pipeline's last stage: one self-contained `reports/index.html` (images embedded, no
network) with each family's headline numbers, figures and registrations, and the run's commit and budget."""

from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path

from visionops.headlines import FAMILIES, Family, headlines_by_model

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .run { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; } td, th { padding: 0.2rem 0.8rem; text-align: left; }
th { border-bottom: 1px solid #999; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5rem; vertical-align: top; }
img { max-width: 34rem; border: 1px solid #ddd; } figcaption { color: #555; font-size: 0.85rem; }
.missing { color: #a33; }
"""


def figure_files(reports: Path, family: Family) -> list[Path]:
    """The PNG files a family shows, in its order (a folder's in name order); absent ones are left out."""
    found = []
    for entry in family.figures:
        path = reports / entry
        found += sorted(path.glob("*.png")) if path.is_dir() else [path] if path.is_file() else []
    return found


def registrations(reports: Path, family: Family) -> list[dict]:
    found = []
    for model in family.registered:
        path = reports / model / "registry.json"
        if path.is_file():
            found.append({"model": model, **json.loads(path.read_text())})
    return found


def render(reports: Path, *, commit: str, budget: str, data_version: str) -> str:
    """The whole page as one string: every image inlined as a data URI."""
    sections = []
    for family in FAMILIES:
        sections.append(_section(reports, family))
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>visionops report: {html.escape(budget)} {html.escape(commit[:7])}</title><style>{STYLE}</style>"
        "</head><body>"
        "<h1>visionops report</h1>"
        f"<p class=run>budget <b>{html.escape(budget)}</b> · commit <code>{html.escape(commit)}</code> · "
        f"data <code>{html.escape(data_version)}</code> · written {made}</p>" + "".join(sections) + "</body></html>\n"
    )


def _section(reports: Path, family: Family) -> str:
    headline = family.headline(reports)
    if not headline:
        return f"<h2>{html.escape(family.title)}</h2><p class=missing>not run yet: its reports are missing</p>"
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td><td class=n>{value:.4f}</td></tr>" for key, value in headline.items()
    )
    parts = [f"<h2>{html.escape(family.title)}</h2>", f"<table><tr><th>metric</th><th>value</th></tr>{rows}</table>"]
    registered = registrations(reports, family)
    if registered:
        lines = "".join(
            f"<tr><td>{html.escape(r['model'])}</td><td>{html.escape(r['name'])}</td><td class=n>{r['version']}</td>"
            f"<td>{_alias(r)}</td><td>{html.escape(r.get('reason', ''))}</td></tr>"
            for r in registered
        )
        parts.append(
            "<table><tr><th>model</th><th>registered as</th><th>version</th><th>alias</th><th>why</th></tr>"
            f"{lines}</table>"
        )
    for png in figure_files(reports, family):
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        name = html.escape(str(png.relative_to(reports)))
        parts.append(
            f"<figure><img alt='{name}' src='data:image/png;base64,{data}'><figcaption>{name}</figcaption></figure>"
        )
    return "".join(parts)


def _alias(registration: dict) -> str:
    if registration["promoted"]:
        return "champion"
    champion = registration.get("champion_version")
    alias = registration.get("alias", "challenger")
    return f"{alias} (champion: version {champion})" if champion else alias


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 900) -> bool:
    """A PNG of the page's first screen in headless Chromium; False where Chromium or playwright is not installed."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return False
    if chromium is None:
        return False
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            view = browser.new_page(viewport={"width": width, "height": height})
            view.goto(page.resolve().as_uri(), wait_until="load")
            view.screenshot(path=str(out))
        finally:
            browser.close()
    return True


def write_headline_files(reports: Path, folder: Path) -> list[Path]:
    """`folder/<family>_<model>.json` with that model's headline numbers, one file per model: the metrics files of
    dvc.yaml, so `dvc metrics show` is one short row per model (the stages' own files hold the details)."""
    from visionops.core.io import atomic_write_json

    written = []
    for (prefix, model), metrics in headlines_by_model(reports).items():
        written.append(folder / f"{prefix}_{model}.json")
        atomic_write_json(written[-1], metrics)
    return written


def report_stage(*, reports: Path, out: Path, params: object, root: Path, headlines: Path | None = None) -> None:
    """Write `out` from the reports under `reports`, atomically, and the headline metrics files into `headlines`."""
    from visionops.core import tracking
    from visionops.core.io import atomic_path

    if headlines is not None:
        write_headline_files(reports, headlines)

    page = render(
        reports,
        commit=tracking.git_commit(root),
        budget=params.registry.label,
        data_version=tracking.data_version(root),
    )
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    shown = sum(len(figure_files(reports, family)) for family in FAMILIES)
    print(f"report: {out} ({len(page) / 1e6:.1f} MB, {shown} figures, {len(FAMILIES)} families)")
