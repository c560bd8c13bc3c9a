"""Regularised logistic regression in plain Python, for `rulerouter tune`.

A few hundred examples and a few dozen features in 0..1 need no numpy: with an L2 penalty,
Newton's method (a d×d solve per step) converges in about ten steps; with an L1 penalty,
which zeroes weak features, accelerated proximal gradient (FISTA) with a step from the
largest eigenvalue of the features' Gram matrix takes a few hundred cheap steps. Examples are
sparse rows of (feature index, value), since most signals are zero on most requests.

Minimised: mean log-loss + λ/2·‖w‖² (L2) or + λ·‖w‖₁ (L1). The bias is not penalised.
Deterministic: no randomness anywhere.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

__all__ = ["Row", "fit", "log_loss", "sigmoid"]

Row = Sequence[tuple[int, float]]
Penalty = Literal["l2", "l1"]


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _margin(row: Row, weights: list[float], bias: float) -> float:
    total = bias
    for j, x in row:
        total += weights[j] * x
    return total


def log_loss(rows: Sequence[Row], labels: Sequence[int], weights: list[float], bias: float) -> float:
    total = 0.0
    for row, y in zip(rows, labels):
        m = _margin(row, weights, bias)
        # log(1 + e^-m) for y = 1, log(1 + e^m) for y = 0, computed without overflow
        z = -m if y else m
        total += z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))
    return total / len(rows)


def _objective(rows: Sequence[Row], labels: Sequence[int], w: list[float], b: float, lam: float, penalty: Penalty) -> float:
    reg = lam / 2 * sum(v * v for v in w) if penalty == "l2" else lam * sum(abs(v) for v in w)
    return log_loss(rows, labels, w, b) + reg


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Solve a symmetric positive-definite system by Gaussian elimination with pivoting."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            a[col][col] = 1e-12
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            if factor:
                for c in range(col, n + 1):
                    a[r][c] -= factor * a[col][c]
    out = [0.0] * n
    for r in range(n - 1, -1, -1):
        out[r] = (a[r][n] - sum(a[r][c] * out[c] for c in range(r + 1, n))) / a[r][r]
    return out


def _newton(rows: Sequence[Row], labels: Sequence[int], d: int, lam: float, max_iter: int) -> tuple[list[float], float]:
    n = len(rows)
    w, b = [0.0] * d, 0.0
    current = _objective(rows, labels, w, b, lam, "l2")
    for _ in range(max_iter):
        grad = [0.0] * (d + 1)  # last slot: the bias
        hess = [[0.0] * (d + 1) for _ in range(d + 1)]
        for row, y in zip(rows, labels):
            p = sigmoid(_margin(row, w, b))
            r, s = (p - y) / n, p * (1 - p) / n
            grad[d] += r
            hess[d][d] += s
            for j, x in row:
                grad[j] += r * x
                hess[j][d] += s * x
                hess[d][j] += s * x
                for k, x2 in row:
                    hess[j][k] += s * x * x2
        for j in range(d):
            grad[j] += lam * w[j]
            hess[j][j] += lam
        hess[d][d] += 1e-9  # keeps the bias solvable when every example has the same label
        step = _solve(hess, grad)
        scale = 1.0
        while True:  # backtracking: Newton steps can overshoot on separable data
            trial_w = [w[j] - scale * step[j] for j in range(d)]
            trial_b = b - scale * step[d]
            value = _objective(rows, labels, trial_w, trial_b, lam, "l2")
            if value <= current or scale < 1e-6:
                break
            scale /= 2
        done = max(abs(scale * v) for v in step) < 1e-8
        w, b, current = trial_w, trial_b, value
        if done:
            break
    return w, b


def _largest_eigenvalue(rows: Sequence[Row], d: int) -> float:
    """Of (1/n)·X̃ᵀX̃ with X̃ = [X, 1], by power iteration."""
    n = len(rows)
    v = [1.0] * (d + 1)
    value = 1.0
    for _ in range(50):
        out = [0.0] * (d + 1)
        for row in rows:
            dot = v[d] + sum(v[j] * x for j, x in row)
            out[d] += dot / n
            for j, x in row:
                out[j] += dot * x / n
        value = math.sqrt(sum(x * x for x in out)) or 1.0
        v = [x / value for x in out]
    return value


def _fista(rows: Sequence[Row], labels: Sequence[int], d: int, lam: float, max_iter: int) -> tuple[list[float], float]:
    n = len(rows)
    step = 1.0 / (0.25 * _largest_eigenvalue(rows, d) * 1.05)
    w, b = [0.0] * d, 0.0
    zw, zb, t = w[:], b, 1.0
    for _ in range(max_iter):
        grad, grad_b = [0.0] * d, 0.0
        for row, y in zip(rows, labels):
            r = (sigmoid(_margin(row, zw, zb)) - y) / n
            grad_b += r
            for j, x in row:
                grad[j] += r * x
        new_w = []
        for j in range(d):
            v = zw[j] - step * grad[j]
            shrink = step * lam
            new_w.append(v - shrink if v > shrink else v + shrink if v < -shrink else 0.0)
        new_b = zb - step * grad_b
        change = max([abs(a - c) for a, c in zip(new_w, w)] + [abs(new_b - b)])
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        momentum = (t - 1) / t_next
        # Restart the momentum when it points uphill (O'Donoghue and Candès' gradient restart).
        if sum((zw[j] - new_w[j]) * (new_w[j] - w[j]) for j in range(d)) + (zb - new_b) * (new_b - b) > 0:
            t_next, momentum = 1.0, 0.0
        zw = [a + momentum * (a - c) for a, c in zip(new_w, w)]
        zb = new_b + momentum * (new_b - b)
        w, b, t = new_w, new_b, t_next
        if change < 1e-7:
            break
    return w, b


def fit(rows: Sequence[Row], labels: Sequence[int], d: int, lam: float, penalty: Penalty = "l2",
        max_iter: int | None = None) -> tuple[list[float], float]:
    """Weights (one per feature index below `d`) and bias of the regularised logistic model."""
    if not rows:
        return [0.0] * d, 0.0
    if lam < 0:
        raise ValueError("the penalty λ must be ≥ 0")
    if penalty == "l2":
        return _newton(rows, labels, d, lam, max_iter or 50)
    return _fista(rows, labels, d, lam, max_iter or 5000)
