"""The TensorBoard hyperparameter-tuning tutorial, for PyTorch's SummaryWriter."""

import torch
from torch.utils.tensorboard import SummaryWriter

torch.manual_seed(0)
x = torch.randn(128, 8)
y = x @ torch.randn(8, 1) + 0.1 * torch.randn(128, 1)

writer = SummaryWriter("runs/hparams")
for lr in (0.01, 0.1):
    for hidden in (4, 16):
        model = torch.nn.Sequential(
            torch.nn.Linear(8, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        for step in range(20):  # noqa: B007 (the last step is the histogram's)
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
        writer.add_histogram("weights", model[0].weight, step)
        writer.add_text("note", f"lr={lr} hidden={hidden}")
        writer.add_hparams({"lr": lr, "hidden": hidden}, {"hparam/loss": loss.item()})
        print(f"lr={lr} hidden={hidden} final loss {loss.item():.4f}")
writer.close()
