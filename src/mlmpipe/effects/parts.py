"""The pieces every variance-based effect size needs: a fit's model matrices evaluated on the data it
was fitted to, the random-effects covariance matrices, and within/between splits by cluster."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmpipe.errors import EstimationError
from mlmpipe.record import FitRecord


@dataclass(frozen=True)
class FitParts:
    """A fitted LMM (its record) next to the arrays it was fitted on.

    ``X`` has the columns of ``beta`` (``names``); ``terms`` maps each grouping factor to
    ``(codes, Z, Sigma)``: level index per row, the term's raw columns and its covariance matrix.
    """

    X: np.ndarray
    names: tuple[str, ...]
    beta: np.ndarray
    y: np.ndarray
    sigma2: float
    terms: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]

    @property
    def n(self) -> int:
        return self.X.shape[0]


def residual_variance(rec: FitRecord) -> float:
    """sigma^2; for a GLMM the latent-scale level-1 variance (pi^2/3 logit, 1 probit, lognormal
    approximation for counts), which makes the R^2 those of Nakagawa & Schielzeth (2013)."""
    if rec.level1_variance is not None:
        return float(rec.level1_variance)
    return float(next(r.vcov for r in rec.random if r.group == "Residual"))


def fit_parts(rec: FitRecord, data: pd.DataFrame) -> FitParts:
    """The model matrices of ``rec`` (its parsed formula) evaluated on ``data``, the data it was
    fitted to, with the record's estimates (nothing is refitted).

    Raises EstimationError naming the model when a fixed-effect term of the fit is not a column of
    the design (the data are not the data the model was fitted to).
    """
    design = rec.design(data)
    cols = list(design.fixed_names)
    names = rec.fixed_terms
    missing = [t for t in names if t not in cols]
    if missing:
        raise EstimationError(
            f"{rec.label}: fixed terms {', '.join(missing)} are not in the design built on the data"
        )
    X = np.asarray(design.X, float)[:, [cols.index(t) for t in names]]
    beta = np.array([r.estimate for r in rec.fixed], float)
    covs = rec.covariance_matrices()
    terms: dict[str, tuple] = {}
    used: set[str] = set()
    for t in design.re_terms:
        # the covariance block of this term: lme4 names a grouping factor's second, third, ...
        # term (``||``) ``g.1``, ``g.2``, ...
        key = next(
            (
                k
                for k, (names_k, _) in covs.items()
                if k not in used
                and t.group in (k, re.sub(r"\.\d+$", "", k))
                and list(t.names) == names_k
            ),
            None,
        )
        if key is None:
            raise EstimationError(f"{rec.label}: random terms of {t.group!r} do not match the fit")
        used.add(key)
        S = covs[key][1]
        codes, Z = np.asarray(t.codes), np.asarray(t.Z, float)
        if t.group in terms:  # uncorrelated terms of one factor: one block-diagonal covariance
            codes0, Z0, S0 = terms[t.group]
            if not np.array_equal(codes0, codes):
                raise EstimationError(f"{rec.label}: random terms of {t.group!r} do not match")
            k0 = S0.shape[0]
            S_all = np.zeros((k0 + S.shape[0],) * 2)
            S_all[:k0, :k0], S_all[k0:, k0:] = S0, S
            terms[t.group] = (codes, np.hstack([Z0, Z]), S_all)
        else:
            terms[t.group] = (codes, Z, S)
    return FitParts(X, names, beta, np.asarray(design.y, float), residual_variance(rec), terms)


def cluster_means(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Row-wise cluster means of ``values`` ((n,) or (n, k)), clusters given by integer ``codes``."""
    v = np.asarray(values, float)
    two_d = v.ndim == 2
    v2 = v if two_d else v[:, None]
    k = int(codes.max()) + 1
    sums = np.zeros((k, v2.shape[1]))
    np.add.at(sums, codes, v2)
    counts = np.bincount(codes, minlength=k)[:, None]
    means = (sums / np.maximum(counts, 1))[codes]
    return means if two_d else means[:, 0]


def cluster_sizes(codes: np.ndarray) -> np.ndarray:
    c = np.bincount(np.asarray(codes))
    return c[c > 0]


def level_of_columns(X: np.ndarray, codes: np.ndarray, tol: float = 1e-10) -> list[str]:
    """``"between"`` for columns constant within every cluster, else ``"within"``."""
    dev = X - cluster_means(X, codes)
    scale = np.maximum(np.abs(X).max(axis=0), 1.0)
    return [
        "between" if np.abs(dev[:, j]).max() <= tol * scale[j] else "within"
        for j in range(X.shape[1])
    ]
