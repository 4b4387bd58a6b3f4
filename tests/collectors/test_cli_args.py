"""The collector's command is defined once: `runlog collector` and `python -m collectors`
take the same options, and every option the README's table lists is one of them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from collectors.cli_args import make_command
from collectors.settings import MIB, Settings
from runlog import conventions as c
from runlog.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def _readme_options() -> list[str]:
    """The options in the first column of the README's collector option table."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Start the collector") :]
    section = section[: section.index("\n## ")]
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    return [opt for row in rows for opt in re.findall(r"`(--[a-z-]+)", row.split("|")[1])]


def test_readme_lists_options() -> None:
    assert {"--data-dir", "--max-file-mb", "--spool-dir", "--no-replay"} <= set(_readme_options())


def test_every_readme_option_is_in_runlog_collector_help() -> None:
    result = CliRunner().invoke(cli, ["collector", "--help"], terminal_width=200)
    assert 0 == result.exit_code, result.output
    missing = [opt for opt in _readme_options() if opt not in result.output]
    assert [] == missing


def test_every_readme_option_is_in_python_m_collectors_help() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "collectors", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert 0 == result.returncode, result.stderr
    missing = [opt for opt in _readme_options() if opt not in result.stdout]
    assert [] == missing


def _parsed(args: list[str]) -> Settings:
    got: list[Settings] = []
    result = CliRunner(env={c.ENV_TOKEN: None, c.ENV_SPOOL_DIR: None}).invoke(
        make_command(got.append), args
    )
    assert 0 == result.exit_code, result.output
    return got[0]


def test_both_entry_points_share_defaults() -> None:
    """Replaying the spool at start is the default for both (it was opposite once)."""
    settings = _parsed([])
    assert settings.replay_spool
    assert Settings(replay_spool=True) == settings


def test_options_reach_the_settings(tmp_path: Path) -> None:
    args = ["--data-dir", str(tmp_path), "--max-file-mb", "5", "--max-body-mb", "2"]
    args += ["--spool-dir", str(tmp_path / "spool"), "--no-replay", "--no-grpc"]
    settings = _parsed(args)
    assert (tmp_path, 5 * MIB, 2 * MIB) == (
        settings.data_dir,
        settings.max_file_bytes,
        settings.max_body_bytes,
    )
    assert (tmp_path / "spool", False, None) == (
        settings.spool_dir,
        settings.replay_spool,
        settings.grpc_port,
    )


def test_runlog_global_token_reaches_the_collector() -> None:
    got: list[Settings] = []
    group = click.Group(params=[click.Option(["--token"])])
    group.add_command(make_command(got.append))
    result = CliRunner().invoke(group, ["--token", "s3cret", "collector"])
    assert 0 == result.exit_code, result.output
    assert "s3cret" == got[0].token


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_bad_sizes_are_usage_errors(value: str) -> None:
    result = CliRunner().invoke(make_command(lambda s: None), ["--max-file-mb", value])
    assert 2 == result.exit_code
