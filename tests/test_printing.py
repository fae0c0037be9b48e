"""What the command line prints: paths, refs and names exactly as typed, whatever characters they hold;
models retrained with --from keep their name."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

TRAIN = ["train", "gan", "--dataset", "ring8", "--steps", "2", "--batch-size", "16"]
# rich markup (a stray closing tag, a style-like tag) and an emoji code: each must print as typed
ODD = ["x[/].png", "grid[final].png", "a:smile:b.png", "[bold]c[/bold].png"]


@pytest.fixture
def stored(cli_run) -> str:
    cli_run(*TRAIN, "--name", "ring")
    return "ring"


@pytest.mark.parametrize("out", ODD)
def test_sample_prints_the_output_path_as_typed(cli_run, stored, tmp_path, out):
    result = cli_run("sample", stored, "-n", "8", "--out", out)
    assert (tmp_path / out).is_file()
    assert f"from {stored} to {out}" in result.output


@pytest.mark.parametrize("out", ["grid[final].png", "a:smile:b.png"])
def test_train_prints_the_grid_path_as_typed(cli_run, tmp_path, out):
    result = cli_run(*TRAIN, "--out", out)
    assert f"Sample grid: {out}" in result.output and (tmp_path / out).is_file()


def test_train_with_a_markup_run_folder_publishes_and_prints_it(cli_run, tmp_path):
    result = cli_run(*TRAIN, "--run-dir", "runs/a[/b]")
    assert "runs/a[/b]" in result.output and "Published gan-ring8:1" in result.output
    assert (tmp_path / "runs" / "a[" / "b]" / "metrics.jsonl").is_file()


def test_models_import_prints_the_folder_as_typed_and_stores_once(cli_run, stored):
    cli_run("models", "export", stored, "exp[/b]")
    result = cli_run("models", "import", "exp[/b]", "--name", "mk")
    assert "Imported exp[/b] as mk:1" in result.output
    assert [m["ref"] for m in json.loads(cli_run("models", "--json").output) if m["name"] == "mk"] == ["mk:1"]


def test_models_export_rm_alias_verify_print_as_typed(cli_run, stored):
    assert f"Exported {stored} to " in cli_run("models", "export", stored, "e[/]x").output
    assert "[red]y" in cli_run("models", "export", f"{stored}:1", "[red]y").output
    root = "reg[/]"
    assert f"No models in {Path(root).resolve()}" in cli_run("models", "--registry", root).output
    assert f"in {Path(root).resolve()} verified" in cli_run("models", "verify", "--registry", root).output


def test_report_prints_its_path_as_typed(cli_run):
    cli_run(*TRAIN, "--run-dir", "runs/r[/]", "--no-publish")
    result = cli_run("report", "runs/r[/]", "--out", "rep[/].html")
    assert "Report: rep[/].html" in result.output


def test_tables_on_a_terminal_show_cells_and_titles_as_typed(monkeypatch, capsys):
    from ganzoo.cli import output

    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    output.print_table("in reg[/]", ["name", "path"], [["a[/]", "[bold]b[/bold]"], ["c:smile:", None]])
    shown = capsys.readouterr().out
    for text in ("in reg[/]", "a[/]", "[bold]b[/bold]", "c:smile:"):
        assert text in shown


@pytest.mark.parametrize("terminal", [False, True])
def test_training_progress_prints_notes_and_names_as_typed(terminal, monkeypatch):
    from ganzoo.training.progress import ProgressCallback

    monkeypatch.delenv("GANZOO_PLAIN_PROGRESS", raising=False)
    buffer = io.StringIO()
    out = Console(file=buffer, force_terminal=terminal, width=200, color_system=None)
    state = SimpleNamespace(step=0, notes=["data read from d[/]x, see :smile:"],
                            config=SimpleNamespace(architecture="a[/]", steps=2, batch_size=2, d_steps=1, log_every=1),
                            dataset=SimpleNamespace(name="[bold]set"))
    progress = ProgressCallback(out=out)
    progress.on_train_start(state)  # type: ignore[arg-type]
    progress.close()
    shown = buffer.getvalue()
    assert "Note: data read from d[/]x, see :smile:" in shown
    if terminal:
        assert "a[/] on [bold]set" in shown


# -- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["mymodel", "mymodel:1", "mymodel@latest"])
def test_retraining_from_a_stored_model_publishes_under_its_name(cli_run, ref):
    cli_run(*TRAIN, "--name", "mymodel")
    assert "Published mymodel:2" in cli_run("train", "--from", ref, "--steps", "2").output
    assert "Published other:1" in cli_run("train", "--from", ref, "--steps", "2", "--name", "other").output
