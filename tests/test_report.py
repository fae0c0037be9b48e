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
# Injected into a copy of the report only: what the browser drew, and any error, written into the title.
PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message || (e.target && (e.target.src || "").slice(0, 40)) || "error"));
  }, true);
  var original = console.error;
  console.error = function () { errors.push(Array.from(arguments).join(" ")); original.apply(console, arguments); };
  function texts(root, selector) {
    return Array.from(root.querySelectorAll(selector)).map(function (t) { return t.textContent.trim(); });
  }
  function size(element) {
    var box = element.getBoundingClientRect();
    return [Math.round(box.width), Math.round(box.height)];
  }
  window.addEventListener("load", function () {
    var charts = Array.from(document.querySelectorAll("figure.chart")).map(function (f) {
      var yaxis = f.querySelector('[id$="matplotlib.axis_2"]');
      return {key: f.dataset.chart, size: size(f.querySelector("svg")),
              title: texts(f, '[id$="-axes_1"] > g[id*="-text_"] text'),
              ylabel: texts(yaxis, ':scope > g[id*="-text_"] text'),
              yticks: texts(yaxis, '[id*="-ytick_"] text'),
              legend: texts(f, '[id*="-legend_"] text'),
              strokes: Array.from(new Set(f.innerHTML.match(/stroke: #[0-9a-f]{6}/g) || [])).map(function (x) {
                return x.slice(8); })};
    });
    var scatters = Array.from(document.querySelectorAll(".scatter")).map(function (s) {
      var collections = Array.from(s.querySelectorAll('[id*="-PathCollection_"]')).filter(function (g) {
        return !g.closest('[id*="-legend_"]'); });
      return {size: size(s.querySelector("svg")), texts: texts(s, "text"),
              markers: collections.map(function (g) { return g.querySelectorAll("use").length; })};
    });
    var images = Array.from(document.images).map(function (i) { return [i.complete, i.naturalWidth]; });
    document.title = "PROBE" + JSON.stringify({images: images, errors: errors, charts: charts, scatters: scatters,
                                               legend: texts(document, "table.legend td:first-child")});
  });
})();
</script>"""
NOTHING_FETCHED = re.compile(r'(src|href)="(?!data:|#)|url\((?!#)|<script|<link')  # in-page references only
COLOURS = ("#1f77b4", "#ff7f0e")  # the first two runs' colours


@pytest.fixture
def trained(cli_run, tmp_path) -> Path:
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "10", "--batch-size", "32", "--log-every", "2",
            "--sample-every", "5", "--eval-every", "5", "--run-dir", "r", "--no-publish")
    return tmp_path / "r"


def test_report_is_one_self_contained_file(cli_run, trained):
    out = cli_run("report", str(trained)).output
    page = (trained / "report.html").read_text()
    assert f"Report: {trained / 'report.html'}" in out.replace("\n", "")
    assert re.findall(r'<img[^>]*src="([^"]*)"', page) == []  # 2-D samples are drawn as charts, not pictures
    assert page.count('<div class="scatter"') == 2 and page.count("<svg") == len(_charts(page)) + 2
    assert {"losses", "d-outputs", "images_per_s"} <= set(_charts(page))
    assert not NOTHING_FETCHED.search(page)  # nothing fetched, nothing run
    for text in ("Training curves", "Samples from the fixed latent", "step 5", "step 10", "Final metrics",
                 "modes_covered", "2d-mixture", "non-saturating", "batch_size", "true modes (8)"):
        assert text in page, text
    other = cli_run("report", str(trained), "--out", "elsewhere/r.html").output
    assert "elsewhere/r.html" in other and (trained.parent / "elsewhere" / "r.html").is_file()

    for points in (trained / "samples").glob("*.json"):  # a run folder from before the points were kept
        points.unlink()
    cli_run("report", str(trained))
    images = re.findall(r'<img[^>]*src="([^"]*)"', (trained / "report.html").read_text())
    assert len(images) == 2 and all(src.startswith("data:image/png;base64,") for src in images)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium chromium-driver)")
def test_report_renders_in_a_headless_browser(cli_run, trained, tmp_path):
    cli_run("report", str(trained))
    report = trained / "report.html"
    shot = tmp_path / "shot.png"
    shown = _chromium(tmp_path / "profile1", f"--screenshot={shot}", "--window-size=1200,2400", report.as_uri())
    console = [line for line in shown.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    state = _probe(report, tmp_path)
    assert state["images"] == []
    charts = {c["key"]: c for c in state["charts"]}
    assert all(w > 200 and h > 100 for c in charts.values() for w, h in [c["size"]]), charts
    assert charts["losses"]["legend"] == ["D loss", "G loss"] and charts["losses"]["ylabel"] == ["loss"]
    assert "equilibrium, D = 1/2" in charts["d-outputs"]["legend"]
    assert len(state["scatters"]) == 2
    for scatter in state["scatters"]:
        assert sorted(scatter["markers"]) == [8, 64]  # the fixed latent's samples, and ring8's eight modes
        assert {"x1", "x2", "samples (64)", "true modes (8)"} <= set(scatter["texts"])
        ticks = [float(t.replace("\u2212", "-")) for t in scatter["texts"] if re.fullmatch(r"[\u2212-]?[\d.]+", t)]
        assert min(ticks) <= -1 and max(ticks) >= 1  # numbered axes that take in the unit circle of the modes
        assert scatter["size"][0] > 150 and scatter["size"][0] == scatter["size"][1]

    picture = Image.open(shot).convert("RGB")
    assert picture.size == (1200, 2400)
    stat = ImageStat.Stat(picture)
    assert max(stat.stddev) > 20  # not a blank page
    grey = picture.convert("L")
    dark = sum(grey.histogram()[:128]) / (picture.width * picture.height)
    assert dark > 0.005  # text, axes and points were drawn
    assert len(picture.getcolors(1 << 20) or []) > 50  # plots in colour, not one flat fill


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium chromium-driver)")
def test_each_evaluation_metric_has_its_own_panel_and_scale(cli_run, trained, tmp_path):
    # Classifier metrics as `--eval-every` writes them for images: a distance near 70 beside numbers in [0, 1].
    lines = []
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert len(records) >= 5
    for i, record in enumerate(records):
        record["aug_p"] = 0.1 * i  # a metric the report has never heard of is drawn all the same
        record["eval"] = {"classifier": {"fd": 80.0 - 3 * i, "kid": 0.05 - 0.01 * i, "kid_std": 0.004,
                                         "precision": 0.2 + 0.1 * i, "recall": 0.1 + 0.05 * i,
                                         "class_kl": 0.9 / (i + 1), "samples": 2000},
                          "protocol": {"kind": "classifier-features", "samples": 2000}}
        lines.append(json.dumps(record))
    (trained / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    cli_run("report", str(trained))
    page = (trained / "report.html").read_text()
    assert "The same at every evaluation: samples 2000." in page

    charts = {c["key"]: c for c in _probe(trained / "report.html", tmp_path)["charts"]}
    panels = {k.split(".", 1)[1]: c for k, c in charts.items() if k.startswith("classifier.")}
    assert sorted(panels) == ["class_kl", "fd", "kid", "precision", "recall"]  # kid_std is no panel of its own
    assert not any("kid_std" in c["legend"] or c["ylabel"] == ["kid_std"] for c in charts.values())
    assert panels["kid"]["title"] == ["kid ± kid_std"]
    for name, panel in panels.items():
        assert panel["ylabel"] == [name], panel
        assert panel["size"][0] > 200 and panel["size"][1] > 100
    scales = {name: [float(t.replace("\u2212", "-")) for t in panel["yticks"]] for name, panel in panels.items()}
    assert min(scales["fd"]) >= 60 - 5 and max(scales["fd"]) <= 80 + 5  # fd's own axis, around its values
    assert max(scales["kid"]) < 0.1 and max(scales["precision"]) <= 1.0 and min(scales["precision"]) >= 0.1
    assert len({tuple(v) for v in scales.values()}) == len(scales)  # five panels, five scales
    assert charts["aug_p"]["ylabel"] == ["aug_p"] and max(float(t) for t in charts["aug_p"]["yticks"]) >= 0.4


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium chromium-driver)")
def test_several_runs_are_drawn_on_the_same_axes_with_a_legend(cli_run, trained, tmp_path):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "16", "--batch-size", "32", "--log-every", "4",
            "--sample-every", "8", "--eval-every", "8", "--lr-g", "0.001", "--run-dir", "faster", "--no-publish")
    out = cli_run("report", str(trained), "faster").output
    assert "Report: compare.html" in out and (tmp_path / "compare.html").is_file()
    assert not (trained / "report.html").exists()  # a comparison never replaces a run's own report
    page = (tmp_path / "compare.html").read_text()
    assert not NOTHING_FETCHED.search(page)
    assert page.count('<div class="scatter"') == 2 + 2  # each run's own grids, under its name
    assert page.count("<td>finished</td>") == 2 and "<td>10/10</td>" in page and "<td>16/16</td>" in page

    state = _probe(tmp_path / "compare.html", tmp_path)
    assert state["errors"] == []
    assert state["legend"] == ["r", "faster"]  # the runs, each beside its colour
    charts = {c["key"]: c for c in state["charts"]}
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "images_per_s", "mixture.high_quality"):
        assert set(COLOURS) <= set(charts[key]["strokes"]), key  # one line per run, in the runs' colours
        assert charts[key]["legend"][:2] == ["r", "faster"], key
    assert "losses" not in charts  # the single-run chart of both losses gives way to one panel per loss

    result = cli_run("report", str(trained), "faster", "./r", code=1)
    assert "is given twice" in result.output and len(result.output.strip().splitlines()) == 1


def test_the_config_shows_what_the_run_used(cli_run, trained):
    cli_run("report", str(trained))
    page = (trained / "report.html").read_text()
    config = page[page.index("<h2>Config</h2>"):]
    rows = {html.unescape(k): html.unescape(v)
            for k, v in re.findall(r"<tr(?: class=differs)?><td>([^<]*)</td><td>([^<]*)</td></tr>", config)}
    resolved = json.loads((trained / "config.json").read_text())["resolved"]
    assert rows["loss"] == f"{resolved['loss']} (the architecture's default)"
    assert rows["device"] == f"{resolved['device']} (auto)"
    assert rows["image_size"] == "none: the data are vectors of 2"
    assert rows["model: generator"] == json.dumps(resolved["spec"]["generator_kwargs"])
    assert rows["dataset"].startswith("ring8 (100000 samples of shape 2, 8 classes")
    assert not {"null", "auto", "None"} & set(rows.values()), rows


def _charts(page: str) -> list[str]:
    return re.findall(r'<figure class="chart" data-chart="([^"]*)"', page)


def _probe(report: Path, tmp_path: Path) -> dict:
    """Open a copy of ``report`` with PROBE in headless Chromium; what it saw (and no console errors)."""
    probe = tmp_path / f"probe-{report.stem}.html"
    probe.write_text(report.read_text().replace("<head>", "<head>\n" + PROBE, 1))
    dumped = _chromium(tmp_path / f"profile-{report.stem}", "--dump-dom", "--virtual-time-budget=5000",
                       "--window-size=1200,2400", probe.as_uri())
    console = [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    title = re.search(r"<title>PROBE(.*?)</title>", dumped.stdout, re.S)
    assert title, dumped.stdout[:500]
    state = json.loads(html.unescape(title.group(1)))
    assert state["errors"] == []
    assert all(complete and width > 0 for complete, width in state["images"]), state["images"]
    return state


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
