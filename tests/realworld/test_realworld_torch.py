"""Unchanged PyTorch, Lightning and TensorBoard scripts plainly and under ``runlog run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _runner import assert_same_output, run_both

pytest.importorskip("torch")
pytestmark = [pytest.mark.realworld, pytest.mark.timeout(600)]


def test_lightning_quickstart_prints_the_same_and_is_recorded(
    collector: Any, tmp_path: Path
) -> None:
    pytest.importorskip("lightning")
    pair = run_both(collector, tmp_path, "lightning_quickstart.py")
    assert 0 == pair.plain.returncode, pair.plain.stderr
    assert "GPU available: False" in pair.plain.stderr + pair.plain.stdout
    assert "INFO: GPU available" not in pair.logged.stderr + pair.logged.stdout
    assert_same_output(pair)
    run_id = pair.run["run_id"]
    with pair.client() as client:
        names = {m["name"] for m in client.list_metrics(run_id)}
        assert {"train_loss", "test_loss"} <= names
        assert 1 == len(client.get_metric(run_id, "test_loss").values)  # once, not twice
        assert "0.001" == client.get_run(run_id)["params"]["lr"]
        files = {f["path"] for f in client.list_files(run_id)}
        summary = client.download_file(
            run_id, "outputs/model_summary.txt", tmp_path / "summary.txt"
        )
    # save_top_k=1 (the default): the one checkpoint Lightning kept, under its own path
    assert "outputs/lightning_logs/version_0/checkpoints/epoch=1-step=16.ckpt" in files
    assert "Total params" in Path(summary).read_text()


def test_tensorboard_hparams_sweep_prints_the_same(collector: Any, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    pair = run_both(collector, tmp_path, "tensorboard_hparams.py")
    assert 0 == pair.plain.returncode, pair.plain.stderr
    assert_same_output(pair)
    run_id = pair.run["run_id"]
    with pair.client() as client:
        trials = client.search_runs(pair.experiment)
    children = sorted(trial["name"] for trial in trials if trial.get("parent_id") == run_id)
    assert [
        "lr=0.01 hidden=16",
        "lr=0.01 hidden=4",
        "lr=0.1 hidden=16",
        "lr=0.1 hidden=4",
    ] == children
    with pair.client() as client:
        metrics = client.get_metrics(run_id)
        lines = [
            line["message"]
            for line in client.iter_logs(run_id)
            if line["logger"] == "tensorboard.note"
        ]
    assert 4 * 30 == len(metrics["weights"]["count"])  # a 30-bin table per add_histogram
    assert ["lr=0.01 hidden=4", "lr=0.01 hidden=16", "lr=0.1 hidden=4", "lr=0.1 hidden=16"] == lines


def test_hand_written_sgd_records_steps_and_losses(collector: Any, tmp_path: Path) -> None:
    """pytorch/examples' regression: no optimizer, weights updated with ``p.data.add_``."""
    pair = run_both(collector, tmp_path, "regression_sgd.py")
    assert 0 == pair.plain.returncode, pair.plain.stderr
    assert_same_output(pair)
    run_id = pair.run["run_id"]
    batches = int(pair.plain.stdout.split()[-2])
    final = float(pair.plain.stdout.split()[1])
    with pair.client() as client:
        loss = client.get_metric(run_id, "loss")
        params = client.get_run(run_id)["params"]
    assert list(range(1, batches + 1)) == loss.steps
    assert final == pytest.approx(loss.values[-1], abs=1e-6)
    assert {"model_class": "Linear", "optimizer": "none"}.items() <= params.items()


def test_torch_save_to_a_file_handle_is_uploaded(collector: Any, tmp_path: Path) -> None:
    pair = run_both(collector, tmp_path, "save_to_handle.py")
    assert 0 == pair.plain.returncode, pair.plain.stderr
    assert_same_output(pair)
    run_id = pair.run["run_id"]
    saved = (tmp_path / "logged" / "model.pt").read_bytes()
    with pair.client() as client:
        got = client.download_file(run_id, "outputs/model.pt", tmp_path / "downloaded.pt")
        assert saved == Path(got).read_bytes()
        loss = client.get_metric(run_id, "loss")  # per optimizer step
        printed = client.get_metric(run_id, "stdout.loss")  # the printed one, per epoch
    assert list(range(1, 13)) == loss.steps
    assert [1, 2, 3] == printed.steps
