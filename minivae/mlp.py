"""A multilayer perceptron: a named chain of layers run forward, then backward.

    net = Sequential([("enc0", Dense(784, 400)), ("enc0.act", ReLU())])
    h  = net.forward(x)     # (B, 784) -> (B, 400)
    dx = net.backward(dh)   # (B, 400) -> (B, 784), fills each Dense's dW, db

Backward is the chain rule applied layer by layer in reverse:
dL/dx = J_1^T ( J_2^T ( ... J_n^T dL/dy )), each layer supplying its J^T.
"""

from __future__ import annotations

from .layers import Dense, make_activation


class Sequential:
    """Layers applied in order; ``dense`` maps each Dense layer's name to it."""

    def __init__(self, named_layers):
        self.named_layers = list(named_layers)
        self.dense = {name: layer for name, layer in self.named_layers if isinstance(layer, Dense)}

    def forward(self, x):
        for _, layer in self.named_layers:
            x = layer.forward(x)
        return x

    def backward(self, dy, need_dx: bool = True):
        """Back-propagate dy = dL/d(output); returns dL/d(input) (None if not need_dx)."""
        last = len(self.named_layers) - 1
        for i in range(last, -1, -1):
            layer = self.named_layers[i][1]
            if i == 0 and isinstance(layer, Dense):
                # The first layer's dx is one more GEMM; skip it unless asked.
                return layer.backward(dy, need_dx=need_dx)
            dy = layer.backward(dy)
        return dy


def build_mlp(prefix: str, dims, activation: str, rng, dtype, xp, final_activation: bool = True):
    """Dense layers dims[0] -> dims[1] -> ... named "<prefix>0", "<prefix>1", ...

    Each Dense is followed by an activation, except after the last one when
    ``final_activation`` is False.
    """
    layers = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append((f"{prefix}{i}", Dense(d_in, d_out, rng=rng, dtype=dtype, xp=xp)))
        if final_activation or i < len(dims) - 2:
            layers.append((f"{prefix}{i}.act", make_activation(activation)))
    return Sequential(layers)
