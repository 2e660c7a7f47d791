"""Reference VAE in PyTorch: the model and training of pytorch/examples vae/main.py.

minivae is checked against this file. It re-implements the PyTorch example
(https://github.com/pytorch/examples/blob/main/vae/main.py) without its
DataLoader: MNIST is held in memory as one float32 tensor in [0, 1], shuffled
each epoch with a seeded torch.Generator and cut into batches by index. It
reads the IDX files itself and does not import minivae, so the two
implementations share nothing but the math.

    python benchmarks/reference/reference_torch.py --data-dir ../shared/data/mnist --threads 2

Model (B batch, D=784 input, H=400 hidden, Z=20 latent):
    encoder  x (B, D) -> relu(fc1) (B, H) -> fc21: mu (B, Z), fc22: logvar (B, Z)
    sample   z = mu + exp(0.5 * logvar) * eps, eps ~ N(0, I)          (B, Z)
    decoder  z (B, Z) -> relu(fc3) (B, H) -> sigmoid(fc4) (B, D)
    loss     BCE(x_hat, x) summed + KL(q(z|x) || N(0, I)), summed over the batch
Losses are reported in nats per image (epoch sum / number of images).
"""

import argparse
import csv
import gzip
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- data
def read_idx(path):
    """Read an IDX file (gzip or raw) into a uint8 tensor of its stated shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])  # magic: 0, 0x08 (ubyte), ndim
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = bytearray(data[4 + 4 * ndim:])
    if len(body) != torch.Size(shape).numel():
        raise ValueError(f"{path}: expected {shape} values, found {len(body)} bytes")
    return torch.frombuffer(body, dtype=torch.uint8).reshape(shape)


def load_mnist_tensors(data_dir, device):
    """Train and test images as float32 (N, 784) tensors in [0, 1] on `device`.

    Same values as the example's transforms.ToTensor(): pixel / 255.
    Labels are not needed by a VAE, so they are not read.
    """
    out = []
    for stem in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        paths = [os.path.join(data_dir, stem + ext) for ext in ("", ".gz")]
        path = next((q for q in paths if os.path.exists(q)), None)
        if path is None:
            raise FileNotFoundError(f"{stem}[.gz] not found in {data_dir}")
        images = read_idx(path)                                   # (N, 28, 28) uint8
        x = images.reshape(len(images), -1).float().div_(255.0)   # (N, 784) float32
        out.append(x.to(device))
    return out[0], out[1]


# ---------------------------------------------------------------- model
class VAE(nn.Module):
    """The example's model, layer for layer and name for name."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)   # default init of nn.Linear, as the example
        self.fc21 = nn.Linear(400, 20)   # mu head
        self.fc22 = nn.Linear(400, 20)   # logvar head (log sigma^2)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))                     # (B, D) -> (B, H)
        return self.fc21(h1), self.fc22(h1)          # (B, Z), (B, Z)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)                # sigma, (B, Z)
        eps = torch.randn_like(std)                  # global torch RNG, as the example
        return mu + eps * std                        # (B, Z)

    def decode(self, z):
        h3 = F.relu(self.fc3(z))                     # (B, Z) -> (B, H)
        return torch.sigmoid(self.fc4(h3))           # (B, H) -> (B, D), probabilities

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def loss_parts(recon_x, x, mu, logvar):
    """(BCE, KLD), each summed over the batch, exactly as the example's loss_function."""
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    # Kingma & Welling 2013, Appendix B: -KL = 0.5 * sum(1 + log sigma^2 - mu^2 - sigma^2)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce, kld


def build_model(device):
    """The example's VAE on `device`; seed torch first (torch.manual_seed) to fix its init."""
    return VAE().to(device)


# ---------------------------------------------------------------- train / test
def train_epoch(model, opt, x_train, batch_size, generator):
    """One pass over x_train in a fresh random order; losses in nats per image.

    Batch losses are accumulated on the device and read once at the end, so a
    GPU run is not synchronized every step.
    """
    model.train()
    n = x_train.shape[0]
    perm = torch.randperm(n, generator=generator).to(x_train.device)
    total_bce = torch.zeros((), device=x_train.device)
    total_kld = torch.zeros((), device=x_train.device)
    sync = torch.cuda.synchronize if x_train.is_cuda else (lambda: None)  # honest GPU timing
    sync()
    t0 = time.perf_counter()
    for start in range(0, n, batch_size):
        x = x_train[perm[start:start + batch_size]]      # (B, D); last batch may be smaller
        opt.zero_grad()
        recon, mu, logvar = model(x)
        bce, kld = loss_parts(recon, x, mu, logvar)
        (bce + kld).backward()                           # the example: loss summed, not averaged
        opt.step()
        total_bce += bce.detach()
        total_kld += kld.detach()
    sync()
    seconds = time.perf_counter() - t0
    recon, kl = total_bce.item() / n, total_kld.item() / n
    return {"loss": recon + kl, "recon": recon, "kl": kl, "seconds": seconds}


@torch.no_grad()
def evaluate(model, x_test, batch_size):
    """Single-sample negative ELBO per image; z is sampled in eval too, as in the example."""
    model.eval()
    n = x_test.shape[0]
    total_bce = torch.zeros((), device=x_test.device)
    total_kld = torch.zeros((), device=x_test.device)
    for start in range(0, n, batch_size):
        x = x_test[start:start + batch_size]
        recon, mu, logvar = model(x)
        bce, kld = loss_parts(recon, x, mu, logvar)
        total_bce += bce
        total_kld += kld
    recon, kl = total_bce.item() / n, total_kld.item() / n
    return {"loss": recon + kl, "recon": recon, "kl": kl}


def run(x_train, x_test, seed=1, epochs=10, batch_size=128, lr=1e-3, device="cpu", log=print):
    """Train from scratch with `seed`; one dict per epoch (train_* and test_* keys, seconds)."""
    torch.manual_seed(seed)                          # init and eps, as the example
    model = build_model(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)  # epoch shuffles
    rows = []
    for epoch in range(1, epochs + 1):
        tr = train_epoch(model, opt, x_train, batch_size, generator)
        te = evaluate(model, x_test, batch_size)
        row = {"seed": seed, "epoch": epoch,
               "train_loss": tr["loss"], "train_recon": tr["recon"], "train_kl": tr["kl"],
               "test_loss": te["loss"], "test_recon": te["recon"], "test_kl": te["kl"],
               "seconds": tr["seconds"]}
        rows.append(row)
        if log:
            log(f"seed {seed} epoch {epoch:2d}  train {tr['loss']:.4f}  "
                f"test {te['loss']:.4f}  {tr['seconds']:.2f} s")
    return rows


FIELDS = ["seed", "epoch", "train_loss", "train_recon", "train_kl",
          "test_loss", "test_recon", "test_kl", "seconds"]


def write_rows(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads")
    p.add_argument("--data-dir", default=os.environ.get("MINIVAE_DATA_DIR"),
                   help="directory with the MNIST IDX files (default: $MINIVAE_DATA_DIR)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--csv", metavar="OUT", help="write one row per epoch to this CSV file")
    args = p.parse_args(argv)
    if not args.data_dir:
        p.error("give --data-dir or set MINIVAE_DATA_DIR")
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    x_train, x_test = load_mnist_tensors(args.data_dir, args.device)
    rows = run(x_train, x_test, args.seed, args.epochs, args.batch_size, args.lr, args.device)
    if args.csv:
        write_rows(args.csv, rows)
    return rows


if __name__ == "__main__":
    main()
