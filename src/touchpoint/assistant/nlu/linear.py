"""Multinomial logistic regression, L2-regularised, fitted with scipy's L-BFGS.

The same objective scikit-learn's LogisticRegression(solver="lbfgs") minimises —
C * sum_i w_i * log-loss_i + ||W||^2 / 2, intercepts unpenalised — written out here so the `nlu` extra does not
need scikit-learn (~55 MB installed) on top of scipy, which it needs anyway for sparse matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, sparse


def fit_softmax_regression(x: Any, y: np.ndarray, c: float, *, balanced: bool = True, max_iter: int = 500,
                           tol: float = 1e-5, sample_weight: np.ndarray | None = None,
                           ) -> tuple[np.ndarray, np.ndarray]:
    """(weights features x classes, intercepts) for labels `y` in 0..k-1 (every class present). `sample_weight`
    multiplies each example's weight (after class balancing)."""
    n, d = x.shape
    k = int(y.max()) + 1
    counts = np.bincount(y, minlength=k).astype(np.float64)
    if (counts == 0).any():
        raise ValueError("every class needs at least one example")
    weights = (n / (k * counts))[y] if balanced else np.ones(n)
    if sample_weight is not None:
        weights = weights * np.asarray(sample_weight, dtype=np.float64)
    sample_weight = weights
    # Divided by C * sum(weights): the same minimiser, but gradients of order 1 whatever C and n are, so one
    # tolerance fits every data size (scikit-learn scales its objective the same way).
    total = float(sample_weight.sum())
    scale = sample_weight / total
    penalty = 1.0 / (c * total)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    x64: Any = x.astype(np.float64) if sparse.issparse(x) else np.asarray(x, dtype=np.float64)
    xt = x64.T.tocsr() if sparse.issparse(x64) else x64.T

    def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d * k].reshape(d, k), theta[d * k:]
        logits = np.asarray(x64 @ w) + b
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1, keepdims=True))
        log_p = logits - log_norm
        loss = -(scale * (log_p * onehot).sum(axis=1)).sum() + 0.5 * penalty * float((w * w).sum())
        residual = (np.exp(log_p) - onehot) * scale[:, None]
        grad_w = np.asarray(xt @ residual) + penalty * w
        grad_b = residual.sum(axis=0)
        return float(loss), np.concatenate([grad_w.ravel(), grad_b])

    result = optimize.minimize(loss_and_grad, np.zeros(d * k + k), jac=True, method="L-BFGS-B",
                               options={"maxiter": max_iter, "gtol": tol, "maxls": 50})
    theta = result.x
    weights = np.ascontiguousarray(theta[:d * k].reshape(d, k), dtype=np.float32)
    return weights, theta[d * k:].astype(np.float32)
