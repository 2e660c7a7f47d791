"""minivae: a Variational Autoencoder written from scratch in NumPy (CuPy on a GPU)."""

from .backend import cuda_available, get_xp, to_numpy

__version__ = "0.1.0"
