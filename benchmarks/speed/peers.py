"""The sides that speed.py and scaling.py time: minivae, PyTorch eager, JAX (jax.jit).

Each side trains the same VAE (784-H..-20-..H-784, ReLU, Bernoulli + KL,
Adam 1e-3, float32) and has ``epoch()``, which trains one pass over its data
and returns the mean loss (read once, at the end), and ``step()``, one step
on a fixed batch.

    MinivaeSide   the public API, as a user writes it: BatchIterator,
                  loss_and_grads, Adam.step
    TorchSide     benchmarks/reference/reference_torch.py (the PyTorch example) for
                  H = 400; the same module with other widths otherwise
    JaxSide       the whole step (forward, value_and_grad, Adam) compiled
                  by jax.jit, which fuses the elementwise work into the
                  products' loops: the nearest thing to a compiled limit.
                  It is fed minivae's own BatchIterator, so it sees the
                  same batches in the same order.

JAX's thread count is fixed when it loads, by XLA_FLAGS: ``common.jax_flags(n)``
gives the flags for n threads (common.threads_from_argv sets them); on one
thread JaxSide also turns off JAX's asynchronous dispatch, so that its step
and Python's batch gathering share one core, as minivae's and PyTorch's do.
"""

import math
import os
import sys

# benchmarks/reference/: reference_torch.py, the PyTorch example that TorchSide trains
REFERENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "reference")


def jax_available():
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


class MinivaeSide:
    """minivae's training loop, as a user writes it: batches, loss_and_grads, Adam.

    fused=False (CUDA): the same loop with the plain forms of minivae/ops.py
    (model and optimizer built with fast=False) instead of the fused kernels.
    ``threads``: a minivae.fast.threads.BlasThreads to tick between steps, as
    minivae/run/epoch.py does.
    """

    def __init__(self, x, batch_size, device="cpu", fused=True, hidden=(400,), threads=None):
        import minivae
        from minivae.backend import get_xp
        from minivae.data import BatchIterator
        self.xp, self.device, self.fused, self.threads = get_xp(device), device, fused, threads
        self.model = minivae.VAE(input_dim=784, hidden_dims=hidden, latent_dim=20,
                                 device=device, seed=1, fast=fused)
        self.opt = minivae.Adam(self.model.params, lr=1e-3, fast=fused)
        # threads=None: the benchmark sets the BLAS threads itself (--threads); the default
        # "auto" would choose its own count between batches
        self.batches = BatchIterator(self.xp.asarray(x), batch_size, seed=1, threads=None)
        self.x_step = self.batches.data[:batch_size]            # (B, D): step()'s batch

    def step(self):
        """One training step on a fixed batch (for the floors: nothing is read back)."""
        self.model.loss_and_grads(self.x_step)
        self.opt.step(self.model.grads)

    def epoch(self):
        """Train one epoch; returns the mean loss (read once, at the end)."""
        total, n = 0.0, 0
        for x in self.batches:
            if self.threads is not None:
                self.threads.tick()
            loss, _ = self.model.loss_and_grads(x)
            self.opt.step(self.model.grads)
            total = total + loss * x.shape[0]     # stays on the device until the end
            n += x.shape[0]
        return float(total) / n


def torch_vae(hidden):
    """The PyTorch example's module with hidden widths ``hidden`` (the decoder mirrors them)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            enc = (784, *hidden)
            self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(enc[:-1], enc[1:]))
            self.fc21, self.fc22 = nn.Linear(enc[-1], 20), nn.Linear(enc[-1], 20)
            dec = (20, *reversed(hidden))
            self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dec[:-1], dec[1:]))
            self.out = nn.Linear(dec[-1], 784)

        def forward(self, x):
            for layer in self.enc:
                x = F.relu(layer(x))
            mu, logvar = self.fc21(x), self.fc22(x)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            for layer in self.dec:
                z = F.relu(layer(z))
            return self.out(z).sigmoid(), mu, logvar

    return VAE()


class TorchSide:
    """benchmarks/reference/reference_torch.py: the PyTorch example's model and training step."""

    def __init__(self, x, batch_size, device="cpu", hidden=(400,)):
        import torch
        if REFERENCE not in sys.path:
            sys.path.insert(0, REFERENCE)
        import reference_torch as ref
        self.ref, self.torch = ref, torch
        torch.manual_seed(1)
        self.x = torch.from_numpy(x).to(device)
        self.model = (ref.build_model(device) if tuple(hidden) == (400,)
                      else torch_vae(hidden).to(device))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.generator = torch.Generator().manual_seed(1)
        self.batch_size = batch_size

    def epoch(self):
        return self.ref.train_epoch(self.model, self.opt, self.x, self.batch_size,
                                    self.generator)["loss"]

    def step(self):
        """One training step on a fixed batch, as train_epoch runs it."""
        x = self.x[:self.batch_size]                            # (B, D)
        self.opt.zero_grad()
        recon, mu, logvar = self.model(x)
        bce, kld = self.ref.loss_parts(recon, x, mu, logvar)
        (bce + kld).backward()
        self.opt.step()


class JaxSide:
    """The same VAE and Adam in JAX, one jax.jit-compiled function per step.

    Parameters as in nn.Linear (U(-k, k), k = 1/sqrt(fan_in)); the loss is
    minivae's (batch mean of the Bernoulli NLL from logits plus the KL);
    eps ~ N(0, I) drawn inside the step from a key folded with the step
    number. Parameters and Adam's moments are donated to the step, so XLA
    may update them in place.
    """

    def __init__(self, x, batch_size, hidden=(400,), seed=1):
        import jax
        import jax.numpy as jnp
        import numpy as np
        from minivae.data import BatchIterator
        self.jax = jax
        if "multi_thread_eigen=false" in os.environ.get("XLA_FLAGS", ""):
            # One thread means one core: without this, XLA runs each step on a
            # thread of its own while Python gathers the next batch on another.
            jax.config.update("jax_cpu_enable_async_dispatch", False)
        enc, dec = (784, *hidden), (20, *reversed(hidden))
        shapes = [(a, b) for a, b in zip(enc[:-1], enc[1:])] + [(enc[-1], 20)] * 2
        shapes += [(a, b) for a, b in zip(dec[:-1], dec[1:])] + [(dec[-1], 784)]
        rng = np.random.default_rng(seed)
        params = []
        for i, o in shapes:
            k = 1 / math.sqrt(i)
            params.append((jnp.asarray(rng.uniform(-k, k, (i, o)).astype(np.float32)),
                           jnp.asarray(rng.uniform(-k, k, (o,)).astype(np.float32))))
        self.state = (params, jax.tree_util.tree_map(jnp.zeros_like, params),
                      jax.tree_util.tree_map(jnp.zeros_like, params))
        n_enc = len(enc) - 1
        self.key = jax.random.PRNGKey(seed)
        self.t = 0
        self.batches = BatchIterator(x, batch_size, seed=1)   # minivae's batches, same order
        self.x_step = jnp.asarray(self.batches.data[:batch_size])

        def loss_fn(params, x, eps):
            h = x
            for W, b in params[:n_enc]:
                h = jax.nn.relu(h @ W + b)                          # (B, H)
            (Wm, bm), (Wl, bl) = params[n_enc], params[n_enc + 1]
            mu, logvar = h @ Wm + bm, h @ Wl + bl                   # (B, Z) each
            z = mu + jnp.exp(0.5 * logvar) * eps
            for W, b in params[n_enc + 2:-1]:
                z = jax.nn.relu(z @ W + b)
            W, b = params[-1]
            logits = z @ W + b                                      # (B, D)
            recon = jnp.sum(jax.nn.softplus(logits) - x * logits, axis=1)
            kl = 0.5 * jnp.sum(mu * mu + jnp.expm1(logvar) - logvar, axis=1)
            return jnp.mean(recon + kl)

        def step(state, x, key, t):
            params, m, v = state
            eps = jax.random.normal(jax.random.fold_in(key, t), (x.shape[0], 20), jnp.float32)
            loss, g = jax.value_and_grad(loss_fn)(params, x, eps)
            b1, b2, lr, e = 0.9, 0.999, 1e-3, 1e-8
            tf = (t + 1).astype(jnp.float32)
            m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
            v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
            c1, c2 = 1 - b1 ** tf, 1 - b2 ** tf
            params = jax.tree_util.tree_map(
                lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + e), params, m, v)
            return (params, m, v), loss

        self._step = jax.jit(step, donate_argnums=(0,))

    def step(self, x=None):
        jnp = self.jax.numpy
        self.state, loss = self._step(self.state, self.x_step if x is None else x, self.key,
                                      jnp.int32(self.t))
        self.t += 1
        return loss

    def epoch(self):
        total, n = 0.0, 0
        for x in self.batches:                     # (B, D) NumPy, minivae's order
            loss = self.step(x)
            total = total + loss * x.shape[0]      # a device value: no wait until the end
            n += x.shape[0]
        return float(total) / n

    def block(self):
        self.jax.block_until_ready(self.state)


def describe_jax():
    import jax
    return f"jax {jax.__version__} ({os.environ.get('XLA_FLAGS', 'default flags')})"
