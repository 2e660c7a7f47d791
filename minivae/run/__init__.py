"""Running a model: the three commands and everything a run needs.

The VAE itself is in the package root; this subpackage only drives it.

    train.py, sample.py, evaluate.py   the commands (python -m minivae.train ...)
    config.py, train_cli.py, values.py the settings, the command line built from them,
                                       and the parsers of each value
    presets.py                         the labs' models by name (--preset)
    schedule.py                        learning-rate schedules (--lr-schedule), KL warm-up
                                       (--kl-warmup)
    train_data.py                      the data a run trains on: batches, the test set
    epoch.py                           one epoch: the steps, then the measurement
    signals.py                         Ctrl-C and SIGTERM: stop between steps, keep the checkpoint
    divergence.py                      the guard that stops an exploding loss
    budget.py                          what training will hold, from its options, against
                                       the memory budget (minivae/files/budget.py)
    trained_budget.py                  the same for sample and evaluate (-n, --iw, --per-image)
    evaluation.py, metrics.py          test ELBO, importance-weighted log p(x), PSNR, SSIM,
                                       each latent dimension's KL and the active units
    importance.py                      log w of K samples of z, chunk by chunk (--iw, --iw-sweep)
    sweep.py                           evaluate --iw-sweep: L_K for K = 1 ... 5000
    anomaly.py                         train on normal labels (--train-labels), score each test
                                       image (evaluate --per-image), ROC-AUC, prediction.csv
    runs.py, rundir.py, run_tables.py  the run directory: checkpoint, marker and lock,
                                       metrics.csv, latents.csv and reconstructions.csv
    checkpoints.py                     minivae.load_model: a saved model of any kind, or a
                                       run directory's
    console.py                         what the commands print
    plots/                             the figures and report.html
"""
