"""Lightning's Trainer.fit under TorchInstrumentor: a real fit, what the real collector stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import runlog  # noqa: E402
from runlog.client import Client  # noqa: E402
from runlog.instrumentation import current_run  # noqa: E402
from runlog.instrumentation.torch import TorchInstrumentor  # noqa: E402

pytestmark = [
    pytest.mark.usefixtures("client_env"),
    pytest.mark.instrumentor(cls=TorchInstrumentor),
]
EPOCHS, BATCHES = 2, 3
CHECKPOINTS = [f"epoch={e}-step={(e + 1) * BATCHES}.ckpt" for e in range(EPOCHS)]


# pl is pytest.importorskip's Any to mypy, not a module, so its classes are unknown.
class Regressor(pl.LightningModule):  # type: ignore[misc,name-defined]  # see above
    """A tiny regression model that remembers the losses it logged."""

    def __init__(self, lr: float = 0.05, hidden: int = 8) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )
        self.logged: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        self.logged.append(loss.item())
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader() -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8 * BATCHES, 4, generator=generator)
    return DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=8)


def trainer(root: Path, **options: Any) -> Any:
    return pl.Trainer(
        max_epochs=EPOCHS,
        log_every_n_steps=1,
        default_root_dir=str(root),
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        **options,
    )


def finished_run(experiment: runlog.Experiment) -> runlog.Run:
    run = current_run()
    assert run is not None
    run.complete()
    assert [run.id] == [r.id for r in experiment.get_runs()]
    return run


@pytest.mark.slow
def test_fit_logs_self_log_hparams_checkpoints_and_final_model(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any, tmp_path: Path
) -> None:
    model = Regressor()
    fit = trainer(tmp_path)  # Lightning's default logger (TensorBoard) stays in place
    fit.fit(model, loader(), loader())
    run = finished_run(experiment)

    assert "Regressor" == run.get_details()["displayName"]
    assert {"lr": "0.05", "hidden": "8"} == run.get_params()
    train_loss = Client(collector.endpoint).get_metric(run.id, "train_loss")
    assert model.logged == train_loss.values  # once each: TensorBoard is not mirrored too
    assert list(range(EPOCHS * BATCHES)) == train_loss.steps
    metrics = run.get_metrics()
    assert EPOCHS == len(metrics["val_loss"])
    assert CHECKPOINTS == [Path(path).name for path in metrics["checkpoint"]]
    best = fit.checkpoint_callback.best_model_path
    assert (best, best) == (run.get_tags()["best_checkpoint"], metrics["checkpoint"][-1])
    assert {"loss", "optimizer_steps", "epoch_loss"}.isdisjoint(metrics)  # plain torch: quiet
    files = run.get_file_names()  # the checkpoint save_top_k=1 kept, not the one it removed
    assert (f"outputs/{CHECKPOINTS[-1]}" in files, f"outputs/{CHECKPOINTS[0]}" in files) == (
        True,
        False,
    )
    assert "outputs/model_summary.txt" in files
    downloaded = run.download_file("outputs/model.pt", str(tmp_path / "model.pt"))
    state = torch.load(downloaded)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


@pytest.mark.slow
def test_checkpoint_directory_is_unchanged_without_other_loggers(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    fit = trainer(tmp_path, logger=False)
    fit.fit(Regressor(), loader())
    run = finished_run(experiment)
    expected = [str(tmp_path / "checkpoints" / name) for name in CHECKPOINTS]
    assert expected == run.get_metrics()["checkpoint"]
    assert expected[-1] == fit.checkpoint_callback.best_model_path


@pytest.mark.slow
def test_a_trainer_subclass_gets_the_logger_too(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    class MyTrainer(pl.Trainer):  # type: ignore[misc,name-defined]  # pl: see Regressor
        pass

    fit = MyTrainer(
        max_epochs=1,
        log_every_n_steps=1,
        default_root_dir=str(tmp_path),
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
    )
    model = Regressor()
    fit.fit(model, loader())
    run = finished_run(experiment)
    assert model.logged == run.get_metrics()["train_loss"]


@pytest.mark.slow
def test_user_errors_in_fit_propagate(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    class Broken(Regressor):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            raise KeyError("user's bug")

    with pytest.raises(KeyError, match="user's bug"):
        trainer(tmp_path, logger=False).fit(Broken(), loader())
    run = current_run()
    assert run is not None
    run.fail("test")


@pytest.mark.slow
def test_the_logger_pickles_without_its_run(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    """ddp_spawn pickles the trainer's loggers: the run stays behind."""
    import pickle

    from runlog.instrumentation.lightning import attach_logger

    with experiment.start_logging() as run:
        logger = attach_logger(trainer(tmp_path, logger=False), Regressor())
        assert run is logger.experiment
        copy = pickle.loads(pickle.dumps(logger))
        assert run is copy.experiment  # resolved again: the active run


@pytest.mark.slow
def test_the_pytorch_lightning_package_is_recorded_too(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any, tmp_path: Path
) -> None:
    legacy = pytest.importorskip("pytorch_lightning")

    # legacy is pytest.importorskip's Any to mypy, as pl is (see Regressor).
    class LegacyRegressor(legacy.LightningModule):  # type: ignore[misc,name-defined]  # see above
        def __init__(self, lr: float = 0.05) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Linear(4, 1)
            self.logged: list[float] = []

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            self.logged.append(loss.item())
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    model = LegacyRegressor()
    fit = legacy.Trainer(
        max_epochs=1,
        log_every_n_steps=1,
        default_root_dir=str(tmp_path),
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        logger=False,
    )
    fit.fit(model, loader())
    run = finished_run(experiment)

    assert {"lr": "0.05"} == run.get_params()
    assert model.logged == Client(collector.endpoint).get_metric(run.id, "train_loss").values
    expected = {"outputs/model.pt", "outputs/model_summary.txt", "outputs/epoch=0-step=3.ckpt"}
    assert expected == set(run.get_file_names())
