"""Rows and images: the layers that reshape between the two (docs/math.md §11).

A conv layer reads and writes images (B, C, H, W); a Dense layer, a likelihood
and every data loader use flat rows (B, D). These layers convert, and their
backward passes undo the same rearrangement: moving numbers changes no value.

    Flatten      (B, C, H, W) -> (B, D)           after a model's last conv layer
    Unflatten    (B, D) -> (B, C, H, W)           before its first transposed conv
    InputLayer   the encoder's first layer, reading the loaders' rows: scaled
                 (x -> 2 x - 1 for a [-1, 1] model), then as images for a conv layer
    batch_last   the conv layers' memory order: the batch stored last (conv.py)
"""

from __future__ import annotations

import numpy as np

from .layers import Layer


def batch_last(a, xp=np):
    """(B, C, H, W) with the batch stored last, (C, H, W, B) in memory: the conv layers' layout.

    The same numbers and shape; only the memory order changes (one copy), so
    that the next elementwise layer and conv layer read it without reordering.
    """
    return xp.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


class Flatten(Layer):
    """(B, C, H, W) -> (B, D). channels_last=True: in the data loaders' order (H, W, C)."""

    def __init__(self, xp=np, channels_last: bool = False):
        super().__init__(xp)
        self.channels_last = channels_last

    def forward(self, x):
        self.shape = x.shape                                    # (B, C, H, W)
        if self.channels_last:
            x = x.transpose(0, 2, 3, 1)                         # (B, H, W, C)
        return x.reshape(x.shape[0], -1)                        # (B, D), D = C H W

    def backward(self, dy):
        B, C, H, W = self.shape
        if self.channels_last:
            return dy.reshape(B, H, W, C).transpose(0, 3, 1, 2)   # (B, D) -> (B, C, H, W)
        return batch_last(dy.reshape(self.shape), self.xp)


class Unflatten(Layer):
    """(B, D) -> (B, C, H, W) for ``shape`` = (C, H, W); the inverse of Flatten."""

    def __init__(self, shape, xp=np, channels_last: bool = False):
        super().__init__(xp)
        self.shape, self.channels_last = tuple(shape), channels_last

    def forward(self, x):
        C, H, W = self.shape
        if self.channels_last:
            return x.reshape(x.shape[0], H, W, C).transpose(0, 3, 1, 2)   # (B, C, H, W)
        return batch_last(x.reshape(x.shape[0], C, H, W), self.xp)

    def backward(self, dy):
        if self.channels_last:
            dy = dy.transpose(0, 2, 3, 1)                       # (B, H, W, C)
        return dy.reshape(dy.shape[0], -1)                      # (B, D)


class InputLayer(Layer):
    """The encoder's first layer, reading rows as the data loaders give them: (B, D) in [0, 1].

    Before ``layer`` it applies x -> scale * x + shift (scale 2, shift -1: the
    [-1, 1] normalisation some models train on), then, for a conv layer,
    Unflatten(channels_last) to (B, C, H, W). Its backward passes ``need_dx``
    on, so the first layer still skips the gradient nobody asked for.
    """

    def __init__(self, layer, image_shape=None, scale=1.0, shift=0.0, xp=np):
        super().__init__(xp)
        self.layer, self.scale, self.shift = layer, scale, shift
        self.unflatten = Unflatten(image_shape, xp, channels_last=True) if image_shape else None

    def forward(self, x):
        if self.scale != 1 or self.shift != 0:
            x = self.scale * x + self.shift                     # (B, D)
        if self.unflatten is not None:
            x = self.unflatten.forward(x)                       # (B, D) -> (B, C, H, W)
        return self.layer.forward(x)

    def backward(self, dy, need_dx: bool = True):
        dx = self.layer.backward(dy, need_dx=need_dx)
        if dx is None:
            return None
        if self.unflatten is not None:
            dx = self.unflatten.backward(dx)                    # (B, C, H, W) -> (B, D)
        return self.scale * dx                                  # d(scale x + shift)/dx = scale
