"""Schedules of a run: the learning rate (``--lr-schedule``: constant, or the IWAE paper's)
and the KL warm-up (``--kl-warmup``: beta from 0 to its value).

Burda, Grosse & Salakhutdinov (2015), Sec. 5: stage i = 0..7 is 3^i passes
over the training set at learning rate 1e-3 * 10^(-i/7), 3280 passes in all.
A setting of the run, not of the model: any model can be trained with it.
"""

from __future__ import annotations

BURDA_STAGES = 8   # Burda et al. 2015, Sec. 5: stage i = 0..7 is 3^i passes at lr 1e-3 * 10^(-i/7)
BURDA_PASSES = sum(3**i for i in range(BURDA_STAGES))   # 3280 passes over the training set


def burda_learning_rate(epoch: int) -> float:
    """The learning rate of pass ``epoch`` (1-based) of the paper's schedule.

    Stage i covers passes 3^0 + ... + 3^(i-1) + 1 to 3^0 + ... + 3^i:
    pass 1 is stage 0 (lr 1e-3), passes 2-4 stage 1, 5-13 stage 2, ...
    Passes beyond the last stage keep its rate.
    """
    if epoch < 1:
        raise ValueError(f"epoch must be >= 1, got {epoch}")
    stage, end = 0, 1
    while epoch > end and stage < BURDA_STAGES - 1:
        stage += 1
        end += 3**stage
    return 1e-3 * 10 ** (-stage / 7)


def learning_rate(schedule: str, lr: float, epoch: int) -> float:
    """The learning rate of ``epoch`` (1-based): ``lr`` throughout ("constant"), or the
    paper's stages scaled so that the first is ``lr`` ("burda")."""
    if schedule == "burda":
        return lr * burda_learning_rate(epoch) / burda_learning_rate(1)
    return lr


def kl_weight(beta: float, warmup_epochs: int, epoch: int, step: int,
              steps_per_epoch: int) -> float:
    """The KL's weight at ``step`` (0-based) of ``epoch`` (1-based) under a linear warm-up.

    Bowman et al. 2016; Sønderby et al. 2016 (docs/math.md §14): beta rises from 0
    at the first step to ``beta`` after ``warmup_epochs`` epochs, by the same
    amount every step, beta_t = beta min(1, t / (W n)), t the global step. A
    function of the step alone, so a resumed run gets the same weights.
    """
    if warmup_epochs <= 0:
        return beta
    t = (epoch - 1) * steps_per_epoch + step
    return beta * min(1.0, t / (warmup_epochs * steps_per_epoch))
