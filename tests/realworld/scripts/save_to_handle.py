"""Train a small classifier and save it the way pytorch/examples' scripts do: to a handle."""

import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(256, 10)
y = (x[:, 0] > 0).long()
model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()
for epoch in range(1, 4):
    for start in range(0, 256, 64):
        optimizer.zero_grad()
        loss = criterion(model(x[start : start + 64]), y[start : start + 64])
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch} loss={loss.item():.4f}")

with open("model.pt", "wb") as f:
    torch.save(model.state_dict(), f)
print("saved model.pt")
