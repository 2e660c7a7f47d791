"""Exercise 1: the Dense layer, forward and backward (docs/math.md §2).

minivae's answer: class Dense in minivae/layers.py.
Grade it: python -m minivae.exercises check . 1    (or: python -m pytest . -m ex1)

Shapes: B batch, I inputs, O outputs. Use NumPy; return arrays of the dtype of x.
"""

import numpy as np


def dense_forward(x, W, b):
    """Affine layer y = x @ W + b, W (I, O), b (O,).

    x : (B, I) inputs.
    Returns y : (B, O).
    """
    raise NotImplementedError("exercise 1: dense_forward")


def dense_backward(dy, x, W):
    """Affine layer y = x @ W + b, W (I, O), b (O,): its backward pass.

    dy : (B, O), dLoss/dy.   x : (B, I), the input of the forward.   W : (I, O).
    Returns (dx, dW, db): dLoss/dx (B, I), dLoss/dW (I, O), dLoss/db (O,).

    y_bo = sum_i x_bi W_io + b_o, so by the chain rule
      dL/dW_io = sum_b x_bi dy_bo
      dL/db_o  = sum_b dy_bo
      dL/dx_bi = sum_o dy_bo W_io
    Write each sum as one NumPy expression (a matrix product, or a sum over an axis).
    """
    raise NotImplementedError("exercise 1: dense_backward")
