"""Data sets for :mod:`absorbphys.models.training` (nothing is downloaded at run time)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._nets import STREAM_DATA

TASKS = ("teacher", "digits")
TEACHERS = ("mlp", "linear")


@dataclass(frozen=True, eq=False)
class Task:
    """A classification task split into train and test sets.

    Attributes
    ----------
    name : str
        ``"teacher"`` or ``"digits"``.
    X_train, X_test : ndarray, shape (n, d_in)
        Standardised inputs (train mean and standard deviation per feature).
    y_train, y_test : ndarray of int64
        Class labels in ``[0, n_classes)``.
    n_classes : int
        Number of classes.
    params : dict
        The arguments that generated the task.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    params: dict

    @property
    def d_in(self) -> int:
        """Input dimension."""
        return int(self.X_train.shape[1])

    def __repr__(self):
        return (f"Task({self.name!r}, n_train={len(self.y_train)}, n_test={len(self.y_test)}, "
                f"d_in={self.d_in}, n_classes={self.n_classes})")


def _standardise(X_train, X_test):
    mu = X_train.mean(axis=0)
    sd = X_train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (X_train - mu) / sd, (X_test - mu) / sd


def teacher_task(n_train, n_test, d_in, n_classes, teacher, teacher_width, seed):
    """Gaussian inputs labelled by the arg-max of a fixed random teacher (validated args)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(STREAM_DATA, 0)))
    n = n_train + n_test
    X = rng.standard_normal((n, d_in))
    if teacher == "linear":
        A = rng.standard_normal((n_classes, d_in)) / math.sqrt(d_in)
        logits = X @ A.T
    else:
        W1 = rng.standard_normal((teacher_width, d_in)) * (1.5 / math.sqrt(d_in))
        b1 = rng.standard_normal(teacher_width) * 0.1
        W2 = rng.standard_normal((n_classes, teacher_width)) / math.sqrt(teacher_width)
        logits = np.tanh(X @ W1.T + b1) @ W2.T
    y = np.argmax(logits, axis=1).astype(np.int64)
    Xtr, Xte = _standardise(X[:n_train], X[n_train:])
    return Xtr, y[:n_train], Xte, y[n_train:]


def digits_task(n_train, n_test, seed):
    """scikit-learn's bundled 8x8 digits, shuffled and split (validated args)."""
    try:
        from sklearn.datasets import load_digits  # optional (the digits extra)
    except ImportError:
        raise ImportError("task='digits' needs scikit-learn: pip install 'absorbphys[digits]'"
                          ) from None
    X, y = load_digits(return_X_y=True)
    n_all = len(y)
    if n_train + n_test > n_all:
        raise ValueError(f"n_train + n_test must be <= {n_all} for task='digits', "
                         f"got {n_train + n_test}")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(STREAM_DATA, 1)))
    perm = rng.permutation(n_all)
    X = X[perm].astype(np.float64)
    y = y[perm].astype(np.int64)
    Xtr, Xte = _standardise(X[:n_train], X[n_train:n_train + n_test])
    return Xtr, y[:n_train], Xte, y[n_train:n_train + n_test]
