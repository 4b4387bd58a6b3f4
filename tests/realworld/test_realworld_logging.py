"""Unchanged logging-configured scripts: the same output under ``runlog run``, and a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _runner import assert_same_output, run_both

pytestmark = [pytest.mark.realworld, pytest.mark.timeout(600)]


def test_a_logging_configured_script_prints_the_same_and_its_numbers_are_recorded(
    collector: Any, tmp_path: Path
) -> None:
    pair = run_both(collector, tmp_path, "train_logging.py")
    assert 0 == pair.plain.returncode, pair.plain.stderr
    assert "no cache directory configured; using memory\n" in pair.plain.stderr
    assert "INFO train: epoch 3 loss=" in pair.plain.stderr
    assert_same_output(pair)
    run_id = pair.run["run_id"]
    assert "train_logging.py" == pair.run["name"]
    with pair.client() as client:
        records = [
            (line["logger"], line["level"], line["message"])
            for line in client.iter_logs(run_id)
            if line["stream"] is None
        ]
        loss = client.get_metric(run_id, "loss")
    assert ("datasets", "WARNING", "no cache directory configured; using memory") in records
    assert [0, 1, 2, 3] == loss.steps  # ``epoch N`` is the step; counted once, not twice
    assert 4 == sum(message.startswith("epoch ") for _, _, message in records)
