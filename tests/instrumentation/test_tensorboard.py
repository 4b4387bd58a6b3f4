"""SummaryWriter calls mirrored into the run by TorchInstrumentor (real TensorBoard writer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

import runlog  # noqa: E402
from runlog.client import Client  # noqa: E402
from runlog.instrumentation import current_run  # noqa: E402
from runlog.instrumentation.torch import TorchInstrumentor  # noqa: E402

pytestmark = [
    pytest.mark.usefixtures("client_env"),
    pytest.mark.instrumentor(cls=TorchInstrumentor),
]


def steps_and_values(collector: Any, run: runlog.Run, name: str) -> tuple[list[int], list[Any]]:
    run.flush()
    got = Client(collector.endpoint).get_metric(run.id, name)
    return got.steps, got.values


def test_scalars_are_mirrored_with_their_steps(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any, tmp_path: Path
) -> None:
    with experiment.start_logging() as run, SummaryWriter(log_dir=str(tmp_path)) as writer:
        for step in (0, 10, 20):
            writer.add_scalar("train/loss", 1.0 / (step + 1), global_step=step)
        writer.add_scalar("lr", torch.tensor(0.5), 3)
        writer.add_scalars("acc", {"train": 0.9, "val": 0.8}, 7)
    assert ([0, 10, 20], [1.0, 1 / 11, 1 / 21]) == steps_and_values(collector, run, "train/loss")
    assert ([3], [0.5]) == steps_and_values(collector, run, "lr")
    assert ([7], [0.9]) == steps_and_values(collector, run, "acc/train")
    assert ([7], [0.8]) == steps_and_values(collector, run, "acc/val")
    events = EventAccumulator(str(tmp_path))
    events.Reload()  # the original wrote each scalar once
    assert [0, 10, 20] == [e.step for e in events.Scalars("train/loss")]


def test_image_is_uploaded_as_png(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    image = torch.zeros(3, 4, 5)
    image[0] = 1.0  # red
    with experiment.start_logging() as run, SummaryWriter(log_dir=str(tmp_path)) as writer:
        writer.add_image("sample", image, 0)
        writer.add_image("gray", torch.ones(4, 5, 1), 1, dataformats="HWC")
    assert {"sample": "images/sample.png", "gray": "images/gray.png"} == run.get_metrics()
    downloaded = Path(run.download_file("images/sample.png", str(tmp_path / "sample.png")))
    from PIL import Image

    with Image.open(downloaded) as png:
        assert ((5, 4), (255, 0, 0)) == (png.size, png.convert("RGB").getpixel((0, 0)))


def test_each_add_hparams_call_is_a_child_run_with_its_params_and_metrics(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    with experiment.start_logging() as run, SummaryWriter(log_dir=str(tmp_path)) as writer:
        writer.add_hparams({"lr": 0.1, "optimizer": "sgd", "layers": 2}, {"hparam/acc": 0.75})
        writer.add_hparams({"lr": 0.01, "optimizer": "sgd", "layers": 2}, {"hparam/acc": 0.5})
    trials = sorted(run.get_children(), key=lambda child: child.get_params()["lr"])
    assert ["lr=0.01 optimizer=sgd layers=2", "lr=0.1 optimizer=sgd layers=2"] == [
        trial.get_details()["displayName"] for trial in trials
    ]
    assert [
        {"lr": "0.01", "optimizer": "sgd", "layers": "2"},
        {"lr": "0.1", "optimizer": "sgd", "layers": "2"},
    ] == [trial.get_params() for trial in trials]
    assert [{"hparam/acc": 0.5}, {"hparam/acc": 0.75}] == [t.get_metrics() for t in trials]
    assert ["Completed", "Completed"] == [t.get_status() for t in trials]
    assert {} == run.get_params()


def test_histograms_are_tables_and_text_is_log_lines(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    values = torch.arange(10, dtype=torch.float32)
    with experiment.start_logging() as run, SummaryWriter(log_dir=str(tmp_path)) as writer:
        writer.add_histogram("weights", values, 3, bins=5)
        writer.add_text("note", "lr=0.1 looks fine", 3)
    table = run.get_metrics()["weights"]
    assert [3] * 5 == table["step"]
    assert [2, 2, 2, 2, 2] == table["count"]
    assert [0.0, 9.0] == [table["left"][0], table["right"][-1]]
    lines = [(line["logger"], line["message"]) for line in run.get_logs()]
    assert [("tensorboard.note", "lr=0.1 looks fine")] == lines


def test_without_an_active_run_one_is_started(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    with SummaryWriter(log_dir=str(tmp_path)) as writer:
        writer.add_scalar("loss", 0.5, 1)
    run = current_run()
    assert run is not None
    run.complete()
    assert [run.id] == [r.id for r in experiment.get_runs()]
    assert {"loss": 0.5} == run.get_metrics()


def test_uninstrumented_writer_logs_nothing(experiment: runlog.Experiment, tmp_path: Path) -> None:
    instrumentor = TorchInstrumentor()
    instrumentor.instrument()
    instrumentor.uninstrument()
    with SummaryWriter(log_dir=str(tmp_path)) as writer:
        writer.add_scalar("loss", 0.5, 1)
    assert current_run() is None
    assert [] == list(experiment.get_runs())


def test_user_errors_from_the_writer_propagate(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    with SummaryWriter(log_dir=str(tmp_path)) as writer, pytest.raises(AssertionError):
        writer.add_image("bad", torch.zeros(2, 3), 0)  # CHW needs three dimensions
    assert [] == list(experiment.get_runs())
