"""A plain PyTorch training script with no runlog code in it.

Run it as a run, unchanged:

    runlog run -e torch-mlp -- python examples/autolog/torch_mlp.py

and the run gets, from the training loop alone: one ``loss`` per optimizer step, ``lr``,
``epoch`` and ``epoch_loss`` per epoch, the model summary as params (``model_class``,
``model_parameters``, ``optimizer``, ``loss_function``…), the TensorBoard scalars
(``val/mse``) and the model saved with ``torch.save`` (``outputs/model.pt``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter

EPOCHS = 5


def make_data(samples: int, seed: int) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, 8, generator=generator)
    y = (x[:, :4].sum(dim=1, keepdim=True) - x[:, 4:].prod(dim=1, keepdim=True)).tanh()
    return TensorDataset(x, y)


def main() -> None:
    torch.manual_seed(0)
    train = DataLoader(make_data(512, seed=1), batch_size=64, shuffle=True)
    val_x, val_y = make_data(128, seed=2).tensors
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    criterion = torch.nn.MSELoss()
    with SummaryWriter() as writer:
        for epoch in range(EPOCHS):
            model.train()
            for x, y in train:
                optimizer.zero_grad()
                loss = criterion(model(x), y)
                loss.backward()
                optimizer.step()
            scheduler.step()
            model.eval()
            with torch.no_grad():
                val_mse = criterion(model(val_x), val_y).item()
            writer.add_scalar("val/mse", val_mse, epoch)
            print(f"epoch {epoch}: val mse {val_mse:.4f}")
    Path("outputs").mkdir(exist_ok=True)
    torch.save(model.state_dict(), "outputs/model.pt")


if __name__ == "__main__":
    main()
