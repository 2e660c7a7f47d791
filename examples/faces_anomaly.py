"""Anomaly detection on real faces: trained on faces, which images are not faces?

scikit-image ships ``data.lfw_subset()``: 100 grey 25x25 crops of faces from
Labeled Faces in the Wild, then 100 crops of non-faces, installed with the
package (no download at run time). Three models train on the first 80 faces
(and their mirror images) only:

* a dense Autoencoder 625-256-32 (MSE, as the labs' fcn_autoencoder),
* a conv Autoencoder, Conv 1->16->32 (kernel 4, stride 2, padding 1: 25 -> 12 -> 6)
  and ConvTranspose back (output_padding 1 restores 25 rows), code 32,
* a conv VAE of the same layers, Gaussian p(x|z) with std 0.1.

The 20 held-out faces and the 100 non-faces are then scored by how badly
each model reconstructs them (summed squared error of the reconstruction,
per image), and for the VAE also by -ELBO (nats). The ROC-AUC is the
probability that a random non-face scores higher than a random held-out
face: 0.5 is chance, 1 a perfect detector.

    python examples/faces_anomaly.py                  # 300 epochs, about a minute
    python examples/faces_anomaly.py --epochs 1000

Writes out/faces_anomaly.png (reconstructions of held-out faces and of
non-faces by each model, and the ROC curves) and out/prediction.csv: the
lab's format, one row per test image, row_id then its 625 original pixels
orig_px0.. and the conv Autoencoder's reconstruction recon_px0.. (in [0, 1]),
written as ``evaluate --predictions`` writes it (minivae/run/anomaly.py's
write_predictions: into a temporary file renamed into place, never half-written).
"""

from __future__ import annotations

import os

import numpy as np

import minivae
from minivae.run.anomaly import write_predictions
from minivae.run.plots import new_figure, save_figure
from minivae.run.plots._common import mosaic, show_image

from _common import figure_path, parser, print_table, recon_and_kl, roc_auc, roc_curve, train

N_TRAIN = 80                                # faces to train on; faces 80..99 are held out


def load_faces():
    """(train (160, 625) faces and mirrors, test (120, 625), is_face (120,) bool), in [0, 1]."""
    from skimage import data                # a test dependency, not one of minivae's
    images = data.lfw_subset()                                   # (200, 25, 25) float64 in [0, 1]
    faces, others = images[:100], images[100:]
    train_faces = np.concatenate([faces[:N_TRAIN], faces[:N_TRAIN, :, ::-1]])   # + mirror images
    test = np.concatenate([faces[N_TRAIN:], others])             # (120, 25, 25)
    is_face = np.arange(len(test)) < 100 - N_TRAIN
    flat = lambda a: a.reshape(len(a), -1).astype(np.float32)    # noqa: E731  (N, 625)
    return flat(train_faces), flat(test), is_face


def build_models(args):
    common = dict(input_dim=625, device=args.device, seed=args.seed)
    conv = dict(common, arch="conv", image_shape=(1, 25, 25), channels=(16, 32), hidden_dims=(),
                latent_dim=args.latent_dim)
    return {
        "dense AE": minivae.Autoencoder(**common, hidden_dims=(256,), latent_dim=args.latent_dim,
                                        likelihood="mse"),
        "conv AE": minivae.Autoencoder(**conv, likelihood="mse"),
        "conv VAE": minivae.VAE(**conv, likelihood="gaussian", gaussian_std=0.1),
    }


def main(argv=None) -> dict:
    p = parser(__doc__, epochs=300)
    p.set_defaults(batch_size=16)
    p.add_argument("--latent-dim", type=int, default=32)
    args = p.parse_args(argv)
    train_x, test_x, is_face = load_faces()
    print(f"Training on {len(train_x)} face images (80 faces and their mirror images); testing "
          f"on {is_face.sum()} held-out faces and {(~is_face).sum()} non-faces, 25x25 grey.")
    models = build_models(args)
    scores, recons = {}, {}
    for name, model in models.items():
        train(model, train_x, args.epochs, args.batch_size, args.lr, args.seed, desc=name)
        x = model.xp.asarray(test_x)
        recons[name] = minivae.to_numpy(model.reconstruct(x))            # (120, 625) in [0, 1]
        scores[f"{name} recon error"] = ((recons[name] - test_x) ** 2).sum(axis=1, dtype=np.float64)
        if isinstance(model, minivae.VAE):
            scores[f"{name} -ELBO"] = sum(recon_and_kl(model, x))
    aucs = {name: roc_auc(s[is_face], s[~is_face]) for name, s in scores.items()}
    print(f"\nROC-AUC, non-faces vs held-out faces ({args.epochs} epochs):")
    print_table(["score", "ROC-AUC", "mean faces", "mean non-faces"],
                [(n, f"{aucs[n]:.4f}", s[is_face].mean(), s[~is_face].mean())
                 for n, s in scores.items()])
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "prediction.csv")
    write_predictions(csv_path, [(test_x, recons["conv AE"])])    # evaluate --predictions' writer
    path = draw(test_x, recons, is_face, scores, aucs, figure_path(args, "faces_anomaly.png"))
    print(f"\nFigure: {path}\nPredictions: {csv_path}")
    return {"auc": aucs, "scores": scores, "is_face": is_face}


def draw(test_x, recons, is_face, scores, aucs, path, n=8) -> str:
    """Left: held-out faces and non-faces, and each model's reconstructions; right: ROC curves."""
    pick = np.concatenate([np.flatnonzero(is_face)[:n], np.flatnonzero(~is_face)[:n]])
    rows = [("original", test_x[pick])] + [(name, r[pick]) for name, r in recons.items()]
    fig = new_figure(12, 1.0 + 1.05 * len(rows))
    grid = fig.add_gridspec(len(rows), 2, width_ratios=[2.4, 1])
    for i, (name, images) in enumerate(rows):
        ax = fig.add_subplot(grid[i, 0])
        show_image(ax, mosaic(images, (25, 25), ncols=2 * n),
                   f"{name}: {n} held-out faces | {n} non-faces" if i == 0 else name)
    ax = fig.add_subplot(grid[:, 1])
    for i, (name, s) in enumerate(scores.items()):
        fpr, tpr = roc_curve(s[is_face], s[~is_face])
        ax.plot(fpr, tpr, color=f"C{i}", label=f"{name}: AUC {aucs[name]:.3f}")
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
    ax.set_xlabel("false positive rate (faces flagged)")
    ax.set_ylabel("true positive rate (non-faces flagged)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
