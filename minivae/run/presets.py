"""Named architectures from the lab write-ups, parameter for parameter.

    python -m minivae.train --preset conv_autoencoder --dataset faces.npz

A preset fills in training options; a TOML file or the command line can
still change any of them (then it is no longer the lab's model, and the
parameter count printed at the start says so).

conv_autoencoder    3x64x64 colour images in [-1, 1]: Conv 3->12->24->48 (kernel 4,
                    stride 2, padding 1, ReLU), ConvTranspose 48->24->12->3 (ReLU,
                    tanh output); the code is the 48-channel feature map. 47,355
                    parameters.
fcn_autoencoder     the same images flattened: 12288->1024->256->64 (ReLU),
                    64->256->1024->12288 (ReLU, tanh output). 25,737,792 parameters.
burda               Burda et al. 2015's MNIST model: 784-200-200-50 tanh, Bernoulli,
                    dynamic binarization, batch 20, Adam eps 1e-4, the paper's schedule
                    (--lr-schedule burda) over all 3280 passes; cut it short with --epochs.
keras_vae           the seed lab's Keras VAE: 784-2000-256 with a 2-D latent, ReLU,
                    sigmoid output (Bernoulli logits), BCE summed per image, batch 64,
                    100 epochs. Encoder 2,083,284 parameters (with its heads),
                    decoder 2,083,552.
keras_autoencoder   MNIST: 784-144-72-48 with ReLU, ReLU, tanh (the code), decoder
                    tanh, tanh, sigmoid; summed squared error, Adam 0.0015, batch
                    300, 12 epochs, Keras's Glorot initialisation (--init glorot).
                    254,704 parameters.
"""

from __future__ import annotations

from .schedule import BURDA_PASSES

_LAB_RANGE = dict(model="ae", likelihood="mse", pixel_range="symmetric")

PRESETS = {
    "conv_autoencoder": dict(_LAB_RANGE, arch="conv", channels=(12, 24, 48), kernel_size=4,
                             stride=2, padding=1, hidden=(), latent_dim=0, activation="relu",
                             decoder_activation="relu"),
    "fcn_autoencoder": dict(_LAB_RANGE, arch="dense", hidden=(1024, 256), latent_dim=64,
                            activation="relu,relu,relu", decoder_activation="relu"),
    "burda": dict(model="vae", arch="dense", hidden=(200, 200), latent_dim=50, activation="tanh",
                  likelihood="bernoulli", binarize=True, batch_size=20, lr=1e-3, adam_eps=1e-4,
                  lr_schedule="burda", epochs=BURDA_PASSES),
    "keras_vae": dict(model="vae", arch="dense", hidden=(2000, 256), latent_dim=2,
                      activation="relu", likelihood="bernoulli", batch_size=64, epochs=100),
    "keras_autoencoder": dict(model="ae", arch="dense", hidden=(144, 72), latent_dim=48,
                              activation="relu,relu,tanh", decoder_activation="tanh,tanh,sigmoid",
                              likelihood="mse", lr=0.0015, batch_size=300, epochs=12,
                              init="glorot"),
}


def check_fits(preset: str | None, image_shape) -> None:
    """Raise ValueError if images of ``image_shape`` ((H, W) or (H, W, C)) do not fit ``preset``."""
    if preset is None:
        return
    H, W, C = (*image_shape, 1)[:3]
    shown = f"{C}x{H}x{W}"
    if preset == "conv_autoencoder" and (C != 3 or H % 8 or W % 8):
        raise ValueError(f"--preset conv_autoencoder is the lab's model for colour images (3 "
                         f"channels) whose sides are multiples of 8, such as 3x64x64; this data "
                         f"set's images are {shown}. Use --arch conv for other shapes")
    if preset == "fcn_autoencoder" and C * H * W != 12288:
        raise ValueError(f"--preset fcn_autoencoder reads 12288 numbers per image (3x64x64); "
                         f"this data set's images are {shown} = {C * H * W}. Use --hidden and "
                         f"--latent-dim for other sizes")
    if preset in ("keras_autoencoder", "keras_vae") and C * H * W != 784:
        raise ValueError(f"--preset {preset} reads 784 numbers per image (28x28); "
                         f"this data set's images are {shown}")
