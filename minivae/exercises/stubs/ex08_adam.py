"""Exercise 8: Adam's update, with bias correction (docs/math.md §7).

minivae's answer: Ops.adam_update in minivae/ops.py (Kingma & Ba 2014, as torch.optim.Adam).
Grade it: python -m minivae.exercises check . 8    (or: python -m pytest . -m ex8)
"""

import numpy as np


def adam_update(p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
    """One Adam step, in place on p, m and v (all the same shape, e.g. (P,)); g is read only.

        g     = g + weight_decay * p          (only when weight_decay is not 0)
        m     = beta1 m + (1 - beta1) g       the running mean of the gradient
        v     = beta2 v + (1 - beta2) g^2     and of its square
        m_hat = m / (1 - beta1^step)          bias corrections: m and v start at 0,
        v_hat = v / (1 - beta2^step)          so early averages are too small
        p     = p - lr m_hat / (sqrt(v_hat) + eps)

    step counts from 1. Update the arrays you are given (p[...] = ..., p -= ...,
    m *= ...): a new array bound to the name p is never seen by the caller.
    Returns nothing.
    """
    raise NotImplementedError("exercise 8: adam_update")
