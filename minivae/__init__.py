"""minivae: a Variational Autoencoder written from scratch in NumPy (CuPy on a GPU).

    import minivae
    model = minivae.VAE(input_dim=784, hidden_dims=(400,), latent_dim=20)
    opt = minivae.Adam(model.params, lr=1e-3)
    loss, parts = model.loss_and_grads(x)     # x: (B, 784) in [0, 1]
    opt.step(model.grads)
"""

from .autoencoder import Autoencoder
from .run.checkpoints import load_model
from .conv import Conv2d, ConvTranspose2d
from .cvae import CVAE
from .data import BatchIterator, load_dataset, load_fashion_mnist, load_mnist
from .backend import cuda_available, get_xp, to_numpy
from .gradcheck import GradcheckError, check_model, gradcheck
from .iwae import IWAE
from .architecture import Flatten, Unflatten
from .layers import Dense, LeakyReLU, ReLU, Sigmoid, Tanh
from .likelihoods import MSE, Bernoulli, Gaussian
from .run.metrics import mse, psnr, ssim
from .optim import SGD, Adam
from .files.serialize import CheckpointError
from .vae import VAE

__version__ = "0.1.0"

__all__ = [
    "VAE", "IWAE", "CVAE", "Autoencoder", "load_model", "Adam", "SGD", "Dense", "Conv2d",
    "ConvTranspose2d",
    "Flatten", "Unflatten", "ReLU", "LeakyReLU", "Tanh",
    "Sigmoid", "Bernoulli", "Gaussian", "MSE",
    "gradcheck", "check_model", "GradcheckError", "CheckpointError",
    "cuda_available", "get_xp", "to_numpy",
    "load_mnist", "load_fashion_mnist", "load_dataset", "BatchIterator", "mse", "psnr", "ssim",
]
# The figures live in minivae.run.plots (import it to use them; it loads matplotlib).
