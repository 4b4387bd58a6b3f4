"""TorchInstrumentor end to end: real PyTorch training loops, what the real collector stored."""

from __future__ import annotations

import gc
import io
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import runlog  # noqa: E402
from runlog.client import Client  # noqa: E402
from runlog.instrumentation import _base, _torch_losses, _torch_steps, current_run  # noqa: E402
from runlog.instrumentation.torch import TorchInstrumentor  # noqa: E402

pytestmark = [
    pytest.mark.usefixtures("client_env"),
    pytest.mark.instrumentor(cls=TorchInstrumentor, complete_run=True),
]

SAMPLES, BATCH, EPOCHS = 40, 16, 3  # 3 batches an epoch (16, 16, 8)
STEPS = 3 * EPOCHS


def make_model() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def make_loader() -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(SAMPLES, 4, generator=generator)
    y = x.sum(dim=1, keepdim=True)
    return DataLoader(TensorDataset(x, y), batch_size=BATCH)


def train(model: Any, optimizer: Any, epochs: int = EPOCHS, scheduler: Any = None) -> list[float]:
    """A plain loop; returns the losses it computed itself, one per optimizer step."""
    criterion = torch.nn.MSELoss()
    losses = []
    for _ in range(epochs):
        for x, y in make_loader():
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if scheduler is not None:
            scheduler.step()
    return losses


def runs_of(experiment: runlog.Experiment) -> list[runlog.Run]:
    return list(experiment.get_runs())


def series(collector: Any, run: runlog.Run, name: str) -> tuple[list[int], list[Any]]:
    run.flush()
    got = Client(collector.endpoint).get_metric(run.id, name)
    return got.steps, got.values


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


# --- what a plain loop records -----------------------------------------------------------
def test_plain_loop_starts_a_run_with_loss_per_step_epochs_lr_and_summary(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    model = make_model()
    model[0].bias.requires_grad_(False)  # frozen: counted, not trainable
    optimizer = torch.optim.SGD(
        [{"params": [model[0].weight], "lr": 0.1}, {"params": model[2].parameters()}],
        lr=0.01,
        momentum=0.5,
    )
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    losses = train(model, optimizer, scheduler=scheduler)
    run = current_run()
    assert run is not None
    run.complete()

    assert [run.id] == [r.id for r in runs_of(experiment)]
    assert "Sequential" == run.get_details()["displayName"]
    assert {
        "model_class": "Sequential",
        "model_parameters": "49",
        "model_trainable_parameters": "41",
        "optimizer": "SGD",
        "optimizer.lr": "0.01",
        "optimizer.momentum": "0.5",
        "optimizer.dampening": "0",
        "optimizer.weight_decay": "0",
        "loss_function": "MSELoss",
    } == run.get_params()
    assert (list(range(1, STEPS + 1)), losses) == series(collector, run, "loss")
    assert ([1, 2, 3], [1, 2, 3]) == series(collector, run, "epoch")
    epoch_means = [mean(losses[i : i + 3]) for i in range(0, STEPS, 3)]
    assert [1, 2, 3] == series(collector, run, "epoch_loss")[0]
    assert epoch_means == pytest.approx(series(collector, run, "epoch_loss")[1], rel=1e-12)
    assert ([1, 4, 7], [0.1, 0.05, 0.025]) == series(collector, run, "lr")
    assert ([1, 4, 7], [0.01, 0.005, 0.0025]) == series(collector, run, "lr_group1")
    assert STEPS == run.get_metrics()["optimizer_steps"]
    assert "Completed" == run.get_status()


def test_an_active_run_gets_the_records_and_no_run_is_started(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    with experiment.start_logging(name="mine") as run:
        model = make_model()
        losses = train(model, torch.optim.Adam(model.parameters(), lr=1e-3), epochs=2)
    assert [run.id] == [r.id for r in runs_of(experiment)]
    assert (list(range(1, 7)), losses) == series(collector, run, "loss")
    assert {"Adam", "Sequential"} <= set(run.get_params().values())


def test_each_run_counts_its_own_steps(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    model = make_model()
    first = experiment.start_logging()
    train(model, torch.optim.SGD(model.parameters(), lr=0.01), epochs=1)
    first.complete()
    with experiment.start_logging() as second:
        losses = train(model, torch.optim.SGD(model.parameters(), lr=0.02), epochs=2)
    assert 3 == len(series(collector, first, "loss")[1])
    assert (list(range(1, 7)), losses) == series(collector, second, "loss")
    assert ([1, 2], [1, 2]) == series(collector, second, "epoch")
    # Loss modules are not intercepted once backward() gives the losses; each run is
    # watched again from its first step, so each names its loss function.
    assert "MSELoss" == first.get_params()["loss_function"]
    assert "MSELoss" == second.get_params()["loss_function"]


def test_losses_batched_every_n_steps_keep_their_steps_and_epoch_means(
    experiment: runlog.Experiment, collector: Any
) -> None:
    """CPU losses are read at each step and logged in batches that never span an epoch."""
    instrumentor = TorchInstrumentor()
    instrumentor.instrument(loss_every=2)  # 3 steps an epoch: batches of 2 and 1
    try:
        model = make_model()
        with experiment.start_logging() as run:
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
            losses = train(model, optimizer, epochs=3)
            last = model(torch.randn(2, 4)).sum()  # a step with no epoch end after it
            last.backward()
            optimizer.step()
            losses.append(last.item())
    finally:
        instrumentor.uninstrument()
    assert (list(range(1, STEPS + 2)), losses) == series(collector, run, "loss")
    epoch_means = [mean(losses[i : i + 3]) for i in range(0, STEPS, 3)]
    assert epoch_means == pytest.approx(series(collector, run, "epoch_loss")[1], rel=1e-12)


def test_two_optimizers_each_step_gets_its_own_loss_and_lr(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    """A GAN-style loop: two models, two optimizers, two backward/step pairs a batch."""
    first, second = make_model(), make_model()
    opt_first = torch.optim.SGD(first.parameters(), lr=0.1)
    opt_second = torch.optim.Adam(second.parameters(), lr=0.002)
    losses = []
    with experiment.start_logging() as run:
        for x, y in make_loader():
            for model, optimizer in ((first, opt_first), (second, opt_second)):
                optimizer.zero_grad()
                loss = torch.nn.functional.l1_loss(model(x), y)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
    assert (list(range(1, 7)), losses) == series(collector, run, "loss")
    assert ([1], [0.1]) == series(collector, run, "lr")
    assert ([2], [0.002]) == series(collector, run, "lr_opt1")
    assert "SGD" == run.get_params()["optimizer"]  # the summary is the first step's


def test_loss_module_output_is_the_loss_when_backward_is_not_called_on_it(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    criterion = torch.nn.L1Loss()
    losses = []
    with experiment.start_logging() as run:
        for x, y in make_loader():
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            torch.autograd.backward([loss])  # not Tensor.backward
            optimizer.step()
            losses.append(loss.item())
    assert ([1, 2, 3], losses) == series(collector, run, "loss")
    assert "L1Loss" == run.get_params()["loss_function"]


def test_with_a_grad_scaler_the_loss_is_the_one_before_scaling(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    criterion = torch.nn.MSELoss()
    losses = []
    with experiment.start_logging() as run:
        for x, y in make_loader():
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.item())
    assert ([1, 2, 3], losses) == series(collector, run, "loss")


def test_a_loader_left_early_or_without_steps_is_no_epoch(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with experiment.start_logging() as run:
        train(model, optimizer, epochs=1)
        with torch.no_grad():
            assert 3 == sum(1 for _ in make_loader())  # validation: exhausted, no steps
        for x, y in make_loader():  # left after one step
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
            break
    assert ([1], [1]) == series(collector, run, "epoch")
    assert 4 == run.get_metrics()["optimizer_steps"]


def test_device_losses_are_read_back_in_batches(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    """Losses not on the CPU are kept as tensors and read every ``loss_every`` steps.

    A tensor that says it is not on the CPU stands in for a CUDA loss (this test runs on
    the CPU build): it takes the batched path; the batch is then read from the host copy.
    """
    values: list[Any] = []
    buffer = _torch_losses.LossBuffer(lambda name, value, step: values.append((name, step, value)))
    buffer.every = 3
    losses = [torch.tensor(float(i)) for i in range(1, 6)]
    for step, loss in enumerate(losses, 1):
        buffer.add(step, _NotOnCpu(loss))
    assert [("loss", 1, 1.0), ("loss", 2, 2.0), ("loss", 3, 3.0)] == values
    buffer.end_epoch(1, 5)
    assert ("epoch_loss", 1, 3.0) == values[-1]
    assert [(s, float(s)) for s in range(1, 6)] == [(s, v) for n, s, v in values if n == "loss"]


def test_an_asynchronous_copy_is_logged_once_done_and_waited_for_only_at_drain() -> None:
    """The CUDA path's polling, with a stand-in for the CUDA event of the copy."""
    values: list[Any] = []
    buffer = _torch_losses.LossBuffer(lambda name, value, step: values.append((name, step, value)))
    event = _Event()
    buffer._in_flight.append(_torch_losses._InFlight([1, 2], torch.tensor([0.5, 0.25]), event))
    buffer.end_epoch(1, 2)
    assert ([], 0) == (values, event.waits)  # the copy is not done: nothing read, no wait
    event.done = True
    buffer.flush()
    assert [("loss", 1, 0.5), ("loss", 2, 0.25), ("epoch_loss", 1, 0.375)] == values
    values.clear()
    buffer._in_flight.append(_torch_losses._InFlight([3], torch.tensor([2.0]), late := _Event()))
    buffer.drain()  # the run ends: now it waits
    assert ([("loss", 3, 2.0)], 1) == (values, late.waits)


class _Event:
    """Stands in for ``torch.cuda.Event`` (this test runs on the CPU build)."""

    def __init__(self) -> None:
        self.done = False
        self.waits = 0

    def query(self) -> bool:
        return self.done

    def synchronize(self) -> None:
        self.waits += 1
        self.done = True


class _NotOnCpu:
    """A tensor that says it is not on the CPU (what a CUDA loss looks like to the buffer)."""

    is_cpu = False

    def __init__(self, tensor: Any) -> None:
        self.tensor = tensor

    def detach(self) -> Any:
        return self.tensor.detach()


def test_module_calls_take_the_fast_path_again_without_training(
    instrumented: TorchInstrumentor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Model discovery hooks module calls only until the first step or a bounded count."""
    from torch.nn.modules import module as torch_module

    monkeypatch.setattr(_torch_steps, "MAX_WATCHED_CALLS", 10)
    model = make_model()
    with torch.no_grad():
        model(torch.randn(2, 4))  # 4 module calls: still watched
        assert 1 == len(torch_module._global_forward_pre_hooks)
        for _ in range(3):
            model(torch.randn(2, 4))
    assert 0 == len(torch_module._global_forward_pre_hooks)
    assert current_run() is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_no_device_sync_is_added_on_cuda(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    """With synchronising calls made errors, an instrumented CUDA loop runs to the end."""
    model = make_model().cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    criterion = torch.nn.MSELoss()
    batches = [(x.cuda(), y.cuda()) for x, y in make_loader()]
    losses = []
    with experiment.start_logging() as run:
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(EPOCHS):
                for x, y in DataLoader(batches, batch_size=None):
                    optimizer.zero_grad()
                    loss = criterion(model(x), y)
                    loss.backward()
                    optimizer.step()
                    losses.append(loss.detach())
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert [v.item() for v in losses] == series(collector, run, "loss")[1]
    assert ([1, 2, 3], [1, 2, 3]) == series(collector, run, "epoch")


# --- torch.save ------------------------------------------------------------------------------
def test_torch_save_to_a_path_is_uploaded_byte_exactly(
    instrumented: TorchInstrumentor,
    experiment: runlog.Experiment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    model = make_model()
    with experiment.start_logging() as run:
        train(model, torch.optim.SGD(model.parameters(), lr=0.01), epochs=1)
        Path("outputs").mkdir()
        torch.save(model.state_dict(), "outputs/model.pt")
        torch.save(model.state_dict(), tmp_path / "checkpoint.pt")
        torch.save(model.state_dict(), io.BytesIO())  # a file object: not uploaded
    assert ["outputs/checkpoint.pt", "outputs/model.pt"] == sorted(run.get_file_names())
    for name, local in (("model.pt", "outputs/model.pt"), ("checkpoint.pt", "checkpoint.pt")):
        downloaded = run.download_file(f"outputs/{name}", str(tmp_path / "download.pt"))
        assert Path(local).read_bytes() == Path(downloaded).read_bytes()


def test_log_models_false_uploads_nothing(
    experiment: runlog.Experiment, tmp_path: Path, collector: Any
) -> None:
    instrumentor = TorchInstrumentor()
    instrumentor.instrument(log_models=False)
    try:
        model = make_model()
        with experiment.start_logging() as run:
            losses = train(model, torch.optim.SGD(model.parameters(), lr=0.01), epochs=1)
            torch.save(model.state_dict(), tmp_path / "model.pt")
    finally:
        instrumentor.uninstrument()
    assert [] == run.get_file_names()
    assert losses == series(collector, run, "loss")[1]


# --- the instrumentor contract -------------------------------------------------------------
def test_uninstrumented_nothing_is_recorded(experiment: runlog.Experiment) -> None:
    instrumentor = TorchInstrumentor()
    instrumentor.instrument()
    instrumentor.uninstrument()
    model = make_model()
    train(model, torch.optim.SGD(model.parameters(), lr=0.01), epochs=1)
    assert current_run() is None
    assert [] == runs_of(experiment)
    assert not isinstance(torch.Tensor.__dict__["backward"], _proxy_type())


def test_uninstrument_restores_the_exact_originals_of_the_per_batch_targets(
    experiment: runlog.Experiment,
) -> None:
    """backward, DataLoader ``__next__`` and loss ``forward`` are plain-function patches."""
    from torch.utils.data import dataloader

    targets = [
        (torch.Tensor, "backward"),
        (dataloader._BaseDataLoaderIter, "__next__"),
        (torch.nn.MSELoss, "forward"),
        (torch.nn.CrossEntropyLoss, "forward"),
    ]
    originals = [vars(owner)[name] for owner, name in targets]
    instrumentor = TorchInstrumentor()
    instrumentor.instrument()
    try:
        patched = [vars(owner)[name] for owner, name in targets]
        assert originals == [function.__wrapped__ for function in patched]
        assert not set(map(id, originals)) & set(map(id, patched))
        with experiment.start_logging():
            train(make_model(), torch.optim.SGD(make_model().parameters(), lr=0.01), epochs=1)
            # backward() gave this run's losses: loss modules are back to their originals
            assert originals[2] is vars(torch.nn.MSELoss)["forward"]
        # watched again for the next run
        assert originals[2] is vars(torch.nn.MSELoss)["forward"].__wrapped__
    finally:
        instrumentor.uninstrument()
    assert originals == [vars(owner)[name] for owner, name in targets]


def test_patched_loss_modules_still_compile_with_torchscript(
    instrumented: TorchInstrumentor,
) -> None:
    """TorchScript reads the original's source and resolves its names (``F``) in the
    patch's globals: the patch carries the original's, so scripting works as without us."""
    scripted = torch.jit.script(torch.nn.MSELoss())
    assert 1.0 == scripted(torch.ones(2), torch.zeros(2)).item()


def test_a_patch_made_on_top_of_ours_is_left_in_place(experiment: runlog.Experiment) -> None:
    original = vars(torch.Tensor)["backward"]
    instrumentor = TorchInstrumentor()
    instrumentor.instrument()
    ours = vars(torch.Tensor)["backward"]

    def theirs(self: Any, *args: Any, **kwargs: Any) -> Any:
        return ours(self, *args, **kwargs)

    torch.Tensor.backward = theirs
    try:
        instrumentor.uninstrument()
        assert theirs is vars(torch.Tensor)["backward"]
    finally:
        torch.Tensor.backward = original


def _proxy_type() -> type:
    import wrapt

    proxy: type = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)  # wrapt 2 renamed it
    return proxy


def test_instrumenting_twice_warns_and_changes_nothing(
    instrumented: TorchInstrumentor,
    experiment: runlog.Experiment,
    internal_log: pytest.LogCaptureFixture,
    collector: Any,
) -> None:
    instrumented.instrument()
    assert ["runlog: torch is already instrumented"] == internal_log.messages
    with experiment.start_logging() as run:
        model = make_model()
        losses = train(model, torch.optim.SGD(model.parameters(), lr=0.01), epochs=1)
    assert (list(range(1, 4)), losses) == series(collector, run, "loss")


class Boom(Exception):
    """The user's own error."""


def test_user_exceptions_propagate_untouched(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, tmp_path: Path
) -> None:
    error = Boom("from the user's backward")

    class Raising(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x.clone()

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            raise error

    model = make_model()
    x = torch.randn(3, 4)
    with pytest.raises(Boom) as raised:
        Raising.apply(model(x)).sum().backward()
    assert error is raised.value
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        model(x).backward()
    with pytest.raises(IndexError, match="out of bounds"):
        torch.nn.CrossEntropyLoss()(torch.randn(2, 3), torch.tensor([0, 7]))
    with pytest.raises(RuntimeError, match="open file failed"):
        torch.save({}, tmp_path)  # a directory
    assert [] == runs_of(experiment)


def test_own_error_is_logged_once_and_training_goes_on(
    instrumented: TorchInstrumentor,
    experiment: runlog.Experiment,
    internal_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNLOG_INSTRUMENTATION_STRICT", "0")
    monkeypatch.setattr(_base, "_reported", set())  # "once per site": this test's site

    def broken(self: Any, step: int, loss: Any) -> None:
        raise ValueError("runlog bug")

    monkeypatch.setattr(_torch_losses.LossBuffer, "add", broken)
    model = make_model()
    with experiment.start_logging() as run:
        losses = train(model, torch.optim.SGD(model.parameters(), lr=0.01), epochs=2)
    assert 6 == len(losses)
    assert ["runlog instrumentation: torch: optimizer step failed; training goes on"] == [
        r.getMessage() for r in internal_log.records if "failed" in r.getMessage()
    ]
    assert 6 == run.get_metrics()["optimizer_steps"]


def test_own_error_raises_in_strict_mode(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Any, step: int, loss: Any) -> None:
        raise ValueError("runlog bug")

    monkeypatch.setattr(_torch_losses.LossBuffer, "add", broken)
    model = make_model()
    with experiment.start_logging(), pytest.raises(ValueError, match="runlog bug"):
        train(model, torch.optim.SGD(model.parameters(), lr=0.01), epochs=1)


def test_originals_run_exactly_once(
    instrumented: TorchInstrumentor,
    experiment: runlog.Experiment,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    calls = {"mse_loss": 0, "backward": 0, "step": 0, "batches": 0}
    mse_loss = torch.nn.functional.mse_loss

    def counting_mse_loss(*args: Any, **kwargs: Any) -> Any:
        calls["mse_loss"] += 1
        return mse_loss(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "mse_loss", counting_mse_loss)

    # torch is pytest.importorskip's Any to mypy, not a module, so its classes are unknown.
    class CountingSGD(torch.optim.SGD):  # type: ignore[misc,name-defined]  # see above
        def step(self, closure: Any = None) -> Any:
            calls["step"] += 1
            return super().step(closure)

    model = make_model()
    optimizer = CountingSGD(model.parameters(), lr=0.01)
    criterion = torch.nn.MSELoss()
    with experiment.start_logging():
        for x, y in make_loader():
            calls["batches"] += 1
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.register_hook(lambda grad: calls.__setitem__("backward", calls["backward"] + 1))
            loss.backward()
            optimizer.step()
        torch.save({"a": 1}, tmp_path / "once.pt")
    assert {"mse_loss": 3, "backward": 3, "step": 3, "batches": 3} == calls
    assert {"a": 1} == torch.load(tmp_path / "once.pt")


def test_a_loop_without_an_optimizer_counts_backward_steps_and_their_losses(
    instrumented: TorchInstrumentor, experiment: runlog.Experiment, collector: Any
) -> None:
    """pytorch/examples' style: ``p.data.add_(p.grad, alpha=-lr)`` instead of an optimizer."""
    gc.collect()  # earlier tests' optimizers sit in reference cycles until a collection
    model = make_model()
    losses = []
    with experiment.start_logging() as run:
        for x, y in make_loader():
            model.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            for param in model.parameters():
                param.data.add_(param.grad, alpha=-0.01)
            losses.append(loss.item())
    assert ([1, 2, 3], losses) == series(collector, run, "loss")
    assert {"optimizer": "none", "model_class": "Sequential"}.items() <= run.get_params().items()
    assert ([1], [1]) == series(collector, run, "epoch")  # the DataLoader ran out once
