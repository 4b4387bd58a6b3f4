"""Lightning's quick start (the autoencoder), on small random data instead of MNIST."""

import lightning as L
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

L.seed_everything(0)
encoder = nn.Sequential(nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 3))
decoder = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 28 * 28))


class LitAutoEncoder(L.LightningModule):
    def __init__(self, encoder, decoder, lr=1e-3):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.save_hyperparameters(ignore=["encoder", "decoder"])

    def training_step(self, batch, batch_idx):
        x, _ = batch
        x = x.view(x.size(0), -1)
        z = self.encoder(x)
        x_hat = self.decoder(z)
        loss = nn.functional.mse_loss(x_hat, x)
        self.log("train_loss", loss)
        return loss

    def test_step(self, batch, batch_idx):
        x, _ = batch
        x = x.view(x.size(0), -1)
        loss = nn.functional.mse_loss(self.decoder(self.encoder(x)), x)
        self.log("test_loss", loss)

    def configure_optimizers(self):
        return optim.Adam(self.parameters(), lr=self.hparams.lr)


if __name__ == "__main__":
    images = torch.rand(256, 1, 28, 28)
    dataset = TensorDataset(images, torch.zeros(256))
    train_loader = DataLoader(dataset, batch_size=32)
    autoencoder = LitAutoEncoder(encoder, decoder)
    trainer = L.Trainer(limit_train_batches=8, max_epochs=2, log_every_n_steps=4, accelerator="cpu")
    trainer.fit(model=autoencoder, train_dataloaders=train_loader)
    trainer.test(model=autoencoder, dataloaders=DataLoader(dataset, batch_size=64))
