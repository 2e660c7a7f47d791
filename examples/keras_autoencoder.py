"""The Keras write-up's dense autoencoder, 784-144-72-48, beside its per-pixel MSE of 0.0120.

The lab's model: Dense 784->144 ReLU, 144->72 ReLU, 72->48 tanh (the code),
then 48->72 tanh, 72->144 tanh, 144->784 sigmoid; mean squared error, Adam
0.0015, batch 300, 12 epochs; "validation MSE 0.0120 per pixel". In minivae it
is ``--preset keras_autoencoder`` (summed squared error: the same gradients up
to the factor 784, which Adam ignores). Keras starts from other weights than
PyTorch (Glorot uniform, U(+-sqrt(6 / (in + out))), and zero biases, against
U(+-1/sqrt(in)) for both), so this trains the model twice, once from each.

    python examples/keras_autoencoder.py              # 2 x 12 epochs on MNIST

Prints the test set's per-pixel MSE of each, beside the lab's.
"""

from __future__ import annotations

import numpy as np

import minivae

from _common import load_data, model_input, parser, print_table, train

LAB_MSE = 0.0120


def keras_model(args, init: str):
    model = minivae.Autoencoder(hidden_dims=(144, 72), latent_dim=48, activation="relu,relu,tanh",
                                decoder_activation="tanh,tanh,sigmoid", likelihood="mse",
                                device=args.device, seed=args.seed)
    if init == "glorot":                # Keras's Dense default, written into the model's views
        rng = np.random.default_rng(args.seed)
        for name, p in model.params.items():
            if name.endswith(".W"):
                a = np.sqrt(6.0 / sum(p.shape))                  # (in, out): sqrt(6 / (in + out))
                p[...] = model.xp.asarray(rng.uniform(-a, a, p.shape), dtype=p.dtype)
            else:
                p[...] = 0
    return model


def main(argv=None, data=None) -> dict:
    p = parser(__doc__, epochs=12)
    p.set_defaults(batch_size=300, lr=0.0015)
    args = p.parse_args(argv)
    data = load_data(args, data)
    rows, results = [], {}
    for init in ("pytorch", "glorot"):
        model = keras_model(args, init)
        train(model, data.train_images, args.epochs, args.batch_size, args.lr, args.seed,
              desc=f"{init} init")
        x = model_input(model, data.test_images)                 # (N, 784)
        err = minivae.to_numpy(((model.reconstruct(x) - x) ** 2).mean())   # per pixel
        results[init] = float(err)
        rows.append((f"{init} init", f"{float(err):.4f}", f"{LAB_MSE:.4f}"))
    print(f"\nTest-set MSE per pixel after {args.epochs} epochs ({model.num_params:,} parameters):")
    print_table(["784-144-72-48", "minivae", "the lab (Keras)"], rows)
    return results


if __name__ == "__main__":
    main()
