"""Exercise 2: ReLU, sigmoid and tanh, forward and backward (docs/math.md §2).

minivae's answers: ReLU, Sigmoid, Tanh and sigmoid() in minivae/layers.py.
Grade it: python -m minivae.exercises check . 2    (or: python -m pytest . -m ex2)

Each backward takes dy = dLoss/dy and what its forward kept, and returns
dx = dLoss/dx, of the shape of dy (B, H). Never change the arrays you are given.
"""

import numpy as np


def relu_forward(x):
    """y = max(x, 0).

    x : (B, H). Returns y : (B, H).
    """
    raise NotImplementedError("exercise 2: relu_forward")


def relu_backward(dy, x):
    """y = max(x, 0): its backward pass.

    dy : (B, H).   x : (B, H), the input of the forward.
    dy/dx = 1 where x > 0 else 0 (take 0 at the kink x = 0). Returns dx : (B, H).
    """
    raise NotImplementedError("exercise 2: relu_backward")


def sigmoid_forward(x):
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2: the same function, never overflowing.

    x : (B, H). Returns y : (B, H), in (0, 1), finite for x = -1000 or +1000 too.
    """
    raise NotImplementedError("exercise 2: sigmoid_forward")


def sigmoid_backward(dy, y):
    """y = sigmoid(x): its backward pass, from the forward's output y (not its input).

    dy : (B, H).   y : (B, H), what sigmoid_forward returned.
    d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x)). Returns dx : (B, H).
    """
    raise NotImplementedError("exercise 2: sigmoid_backward")


def tanh_forward(x):
    """y = tanh(x).

    x : (B, H). Returns y : (B, H).
    """
    raise NotImplementedError("exercise 2: tanh_forward")


def tanh_backward(dy, y):
    """y = tanh(x): its backward pass, from the forward's output y (not its input).

    dy : (B, H).   y : (B, H), what tanh_forward returned.
    d tanh(x)/dx = 1 - tanh(x)^2. Returns dx : (B, H).
    """
    raise NotImplementedError("exercise 2: tanh_backward")
