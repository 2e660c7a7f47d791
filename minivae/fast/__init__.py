"""The speed-ups, standing apart from the VAE: the same maths, faster.

A model is built with one choice, ``fast=True`` (the default) or
``fast=False``; its optimizer takes the same choice from it.

    forms.py         choose_ops: the faster forms of minivae/ops.py (FastOps,
                     NumbaOps, with the CPU's conv layer forms; CudaOps on the
                     GPU), chosen once per model
    cpu_kernels.py   loops compiled by Numba (the "numba" extra): Adam's update,
                     the conv layers' im2col and col2im
    cuda_kernels.py  fused CuPy kernels for the elementwise chains of a step, and
                     Dense, ReLU and the conv layers in fewer GPU launches
    threads.py       how many CPU threads the matrix products use (--threads)
    gpu.py           TF32 for float32 products; reading a GPU value without waiting
"""

from .forms import FastOps, NumbaOps, choose_ops  # noqa: F401
