"""mlflow.sklearn.autolog and mlflow.pytorch.autolog (Lightning) pointed at the collector."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from runlog.client import Client

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402


@pytest.mark.slow
def test_sklearn_autolog(ml: Any, collector: Any) -> None:
    from sklearn.linear_model import LinearRegression

    ml.set_experiment("mlflow-sklearn-autolog")
    ml.sklearn.autolog()
    try:
        x = np.arange(20.0).reshape(10, 2)
        LinearRegression().fit(x, x @ [1.0, 2.0])
    finally:
        ml.sklearn.autolog(disable=True)
    run_id = ml.last_active_run().info.run_id

    stored = Client(collector.endpoint).get_run(run_id)
    assert "True" == stored["params"]["fit_intercept"]
    assert 1.0 == pytest.approx(MlflowClient().get_run(run_id).data.metrics["training_r2_score"])
    assert ["MLmodel"] == [f for f in model_files(collector, run_id) if f == "MLmodel"]


def model_files(collector: Any, run_id: str) -> list[str]:
    """Files of the logged models whose source run is *run_id*, in the model file store."""
    client = MlflowClient()
    experiment = client.get_run(run_id).info.experiment_id
    models = client.search_logged_models([experiment], f"source_run_id = '{run_id}'")
    root = collector.data_dir / "model-files"
    return [
        p.relative_to(root / m.model_id).as_posix()
        for m in models
        for p in (root / m.model_id).rglob("*")
        if p.is_file()
    ]


@pytest.mark.slow
@pytest.mark.parametrize("log_models", [False, True])
def test_pytorch_autolog_with_lightning(ml: Any, collector: Any, log_models: bool) -> None:
    torch = pytest.importorskip("torch")
    lightning = pytest.importorskip("lightning")

    class Tiny(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch: Any, _: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.TensorDataset(torch.randn(16, 2), torch.randn(16, 1))
    ml.set_experiment("mlflow-pytorch-autolog")
    ml.pytorch.autolog(log_models=log_models)
    try:
        trainer = lightning.Trainer(
            max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False
        )
        trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=8))
    finally:
        ml.pytorch.autolog(disable=True)
    run_id = ml.last_active_run().info.run_id

    stored = Client(collector.endpoint).get_run(run_id)
    history = MlflowClient().get_metric_history(run_id, "train_loss")
    assert "2" == stored["params"]["epochs"]
    assert [0, 1] == [m.step for m in history]
    assert "Completed" == stored["status"]
    assert log_models == ("MLmodel" in model_files(collector, run_id))
