"""``ganzoo report``: one self-contained HTML page, checked in a real headless browser."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
BROWSER = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0"]
# Injected into a copy of the report only: records every image's load state and any error in the title.
PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message || (e.target && (e.target.src || "").slice(0, 40)) || "error"));
  }, true);
  var original = console.error;
  console.error = function () { errors.push(Array.from(arguments).join(" ")); original.apply(console, arguments); };
  window.addEventListener("load", function () {
    var images = Array.from(document.images).map(function (i) { return [i.complete, i.naturalWidth]; });
    document.title = "PROBE" + JSON.stringify({images: images, errors: errors});
  });
})();
</script>"""


@pytest.fixture
def trained(cli_run, tmp_path) -> Path:
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "10", "--batch-size", "32", "--log-every", "2",
            "--sample-every", "5", "--eval-every", "10", "--run-dir", "r", "--no-publish")
    return tmp_path / "r"


def test_report_is_one_self_contained_file(cli_run, trained):
    out = cli_run("report", str(trained)).output
    page = (trained / "report.html").read_text()
    assert f"Report: {trained / 'report.html'}" in out.replace("\n", "")
    images = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert len(images) == 3 + 2  # losses, D outputs, the mixture evaluation; two grids
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(?!data:)|url\(|<script|<link', page)  # nothing fetched, nothing run
    for text in ("Training curves", "Samples from the fixed latent", "step 5", "step 10", "Final metrics",
                 "modes_covered", "2d-mixture", "non-saturating", "batch_size"):
        assert text in page, text
    other = cli_run("report", str(trained), "--out", "elsewhere/r.html").output
    assert "elsewhere/r.html" in other and (trained.parent / "elsewhere" / "r.html").is_file()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium chromium-driver)")
def test_report_renders_in_a_headless_browser(cli_run, trained, tmp_path):
    cli_run("report", str(trained))
    report = trained / "report.html"
    shot = tmp_path / "shot.png"
    shown = _chromium(tmp_path / "profile1", f"--screenshot={shot}", "--window-size=1200,2400", report.as_uri())
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("<head>", "<head>\n" + PROBE, 1))
    dumped = _chromium(tmp_path / "profile2", "--dump-dom", "--virtual-time-budget=5000", probe.as_uri())

    for result in (shown, dumped):
        console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
        assert console == [], console
    title = re.search(r"<title>PROBE(.*?)</title>", dumped.stdout, re.S)
    assert title, dumped.stdout[:500]
    state = json.loads(html.unescape(title.group(1)))
    assert state["errors"] == []
    assert len(state["images"]) == 5
    assert all(complete and width > 0 for complete, width in state["images"]), state["images"]

    picture = Image.open(shot).convert("RGB")
    assert picture.size == (1200, 2400)
    stat = ImageStat.Stat(picture)
    assert max(stat.stddev) > 20  # not a blank page
    grey = picture.convert("L")
    dark = sum(grey.histogram()[:128]) / (picture.width * picture.height)
    assert dark > 0.005  # text, axes and points were drawn
    assert len(picture.getcolors(1 << 20) or []) > 50  # plots in colour, not one flat fill


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    result = subprocess.run([CHROMIUM, *BROWSER, f"--user-data-dir={profile}", *args], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.parametrize("make", ["missing", "empty", "file"])
def test_a_folder_that_is_not_a_run_is_one_line(cli_run, tmp_path, make):
    if make == "empty":
        (tmp_path / "notarun").mkdir()
    elif make == "file":
        (tmp_path / "notarun").write_text("hello")
    result = cli_run("report", "notarun", code=1)
    assert "notarun is not a run folder" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_run_stopped_before_its_first_record_still_reports(tmp_path):
    from ganzoo.report import write_report

    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.jsonl").write_text('{"step": 3, "d_lo')  # torn by a crash
    page = write_report(tmp_path / "r").read_text()
    assert "No metric records yet" in page and "No sample grids" in page
