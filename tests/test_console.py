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
