"""Terminal output conventions: NO_COLOR gives plain text even where rich would style it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli

ESC = "\x1b"


@pytest.mark.parametrize("command", [["list"], ["plugins"]])
def test_no_color_means_no_escape_sequences(command):
    # FORCE_COLOR makes rich treat the captured output as a terminal, where it draws styled tables.
    runner = CliRunner()
    styled = runner.invoke(cli, command, env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert styled.exit_code == 0, styled.output
    assert ESC in styled.output  # the control: on a terminal, rich writes styles
    plain = runner.invoke(cli, command, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert plain.exit_code == 0, plain.output
    assert ESC not in plain.output
    assert "dcgan" in plain.output and "┃" in plain.output  # still the terminal's table, only unstyled


def test_piped_output_has_no_escape_sequences():
    result = CliRunner().invoke(cli, ["list"], env={"FORCE_COLOR": None, "NO_COLOR": None, "TTY_COMPATIBLE": None})
    assert result.exit_code == 0 and ESC not in result.output
    assert result.output.startswith("# Architectures\nname\tplugin\t")


class _Terminal:
    """A stand-in for a terminal's stderr: says it is a tty and keeps what is written."""

    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


def test_long_work_shows_a_bar_on_a_terminal_and_nothing_when_piped(monkeypatch, capsys):
    from ganzoo.progress import progress

    monkeypatch.delenv("GANZOO_PLAIN_PROGRESS", raising=False)
    with progress("Inception features of 4 images", 4) as advance:  # pytest's stderr is not a tty
        advance(4)
    assert capsys.readouterr().err == ""

    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with progress("Inception features of 4 images", 4) as advance:
        advance(2)
        advance(2)
    assert "Inception features of 4 images" in terminal.text and "4/4" in terminal.text

    terminal.text = ""
    monkeypatch.setenv("GANZOO_PLAIN_PROGRESS", "1")  # the switch training's progress already has
    with progress("quiet", 1) as advance:
        advance(1)
    assert terminal.text == ""
