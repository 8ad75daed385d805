"""Delta adjustment of an imputed binary, count or ordinal outcome (MNAR sensitivity).

For a continuous outcome the imputed values are shifted by ``delta x SD`` (:mod:`mlmpipe.missing.
delta`). A discrete outcome cannot be shifted additively; the shift is applied to the imputation
model's distribution of the missing values instead (van Buuren 2018, "Flexible Imputation of Missing
Data", 2nd ed., sec. 9.2; Leacy, Floyd, Yates & White 2017, Am. J. Epidemiol. 185(4)):

* binary: ``y ~ Bernoulli(expit(logit p + delta))`` -- delta is a log odds ratio of the missing
  against the observed-data model (delta = log 2: the missing have twice the odds);
* counts (``poisson``, ``negbin``): the mean ``mu exp(delta)`` -- delta is a log rate ratio (the NB2
  dispersion is kept);
* ordinal: the latent variable shifted by delta, i.e. every threshold moved by ``-delta``
  (``P(y <= j) = F(alpha_j - eta - delta)``) -- delta is on the latent logit / probit scale.

``p``, ``mu`` and the threshold model come from a GLMM of the outcome fitted to the rows whose
outcome was observed, in each completed data set (the analysis formula with the plan's family and
link; cluster-specific predictions with the cluster's conditional modes). The main pipeline imputes
a binary or count outcome by predictive mean matching, which has no predicted probability of its
own; this model is the observed-data distribution that the shift departs from.

Each imputed value is redrawn from the shifted distribution by a *coupled* draw: a uniform ``U`` is
drawn once per imputed row (seeded from the plan) within the interval of the MAR-imputed value,
``F_0(y - 1) <= U < F_0(y)``, and the adjusted value is the shifted distribution's quantile
``F_delta^-1(U)``. Marginally over ``U`` this is an exact draw from the shifted distribution (given
the imputed value came from the unshifted one); the same ``U`` serve every delta, so each imputed
value is monotone in delta and delta = 0 returns the MAR imputations unchanged (the MI estimate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from mlmpipe.api import fit as fit_model
from mlmpipe.missing.mi_chained import FLAG

#: What one unit of delta means, per family (for the result, the report and the figure's axis).
UNITS = {
    "binomial": "log odds ratio (logit scale of the imputation model's probabilities)",
    "poisson": "log rate ratio (log scale of the imputation model's mean)",
    "negbin": "log rate ratio (log scale of the imputation model's mean)",
    "ordinal": "latent-scale shift (thresholds moved by -delta)",
}


@dataclass(frozen=True)
class DiscreteShift:
    """One completed data set's imputed outcome values with their model and coupling uniforms."""

    data: pd.DataFrame
    outcome: str
    rows: np.ndarray  # positions of the imputed outcome values
    family: str
    center: np.ndarray  # logit p (binomial), log mu (counts) or eta (ordinal) of those rows
    u: np.ndarray  # coupling uniforms, F_0(y - 1) <= u < F_0(y)
    size: float | None = None  # NB2 size k
    cuts: np.ndarray | None = None  # ordinal thresholds alpha_j
    link: str | None = None  # ordinal link (logit or probit)
    categories: np.ndarray | None = None  # ordinal category values in order

    def cdf(self, k: np.ndarray, delta: float, idx: np.ndarray | None = None) -> np.ndarray:
        """P(y <= k) of the imputed rows (``idx``: a subset of them) under the shift ``delta`` (k
        as category positions for ordinal outcomes)."""
        c = (self.center if idx is None else self.center[idx]) + delta
        if self.family == "binomial":
            return np.where(k < 0, 0.0, np.where(k < 1, 1 - special.expit(c), 1.0))
        if self.family == "poisson":
            return stats.poisson.cdf(k, np.exp(c))
        if self.family == "negbin":
            mu = np.exp(c)
            return stats.nbinom.cdf(k, self.size, self.size / (self.size + mu))
        F = special.expit if self.link == "logit" else special.ndtr
        cuts = np.concatenate([[-np.inf], self.cuts, [np.inf]])
        return F(cuts[np.clip(k, -1, len(self.cuts)) + 1] - c)

    def quantile(self, delta: float) -> np.ndarray:
        """Smallest k with P(y <= k) > u under the shift (the coupled draw)."""
        k = np.zeros(len(self.u), dtype=np.int64)
        idx = np.flatnonzero(self.cdf(k, delta) <= self.u)
        while len(idx):  # P(y <= top) = 1 > u ends binary and ordinal rows; counts step up
            k[idx] += 1
            idx = idx[self.cdf(k[idx], delta, idx) <= self.u[idx]]
        return k

    def shifted(self, delta: float) -> pd.DataFrame:
        """Copy of the completed data set with the imputed outcome redrawn under ``delta``."""
        out = self.data.copy()
        if delta == 0.0 or len(self.rows) == 0:
            return out  # exactly the MAR imputations
        k = self.quantile(delta)
        values = self.categories[k] if self.family == "ordinal" else k
        col = out.columns.get_loc(self.outcome)
        out.iloc[self.rows, col] = pd.array(values).astype(out[self.outcome].dtype)
        return out


def _category_positions(y: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Ordinal outcome values -> positions 0..K-1 and the category values in order."""
    if isinstance(y.dtype, pd.CategoricalDtype):
        return y.cat.codes.to_numpy(), np.asarray(y.cat.categories)
    cats = np.sort(y.dropna().unique())
    return np.searchsorted(cats, y.to_numpy()), cats


def prepare_shift(
    data: pd.DataFrame, outcome: str, formula: str, glmm: dict, rng: np.random.Generator
) -> DiscreteShift:
    """Fit the observed-outcome GLMM on one completed data set and draw its coupling uniforms."""

    flag = FLAG.format(name=outcome)
    imputed = data[flag].astype(bool).to_numpy() if flag in data else np.zeros(len(data), bool)
    rows = np.flatnonzero(imputed)
    family = glmm["family"]
    if len(rows) == 0:
        return DiscreteShift(data, outcome, rows, family, np.empty(0), np.empty(0))
    fit = fit_model(formula, data.loc[~imputed].reset_index(drop=True), reml=False, **glmm)
    eta = np.asarray(fit.predict(data.iloc[rows], re=True, type="link"), float)
    extra: dict = {}
    y = data[outcome].iloc[rows]
    if family == "binomial":
        center = special.logit(np.clip(fit.glmm.family.link.linkinv(eta), 1e-15, 1 - 1e-15))
        k = y.to_numpy(float).astype(np.int64)
    elif family == "ordinal":
        center = eta
        pos, cats = _category_positions(data[outcome])
        k = pos[rows]
        extra = {"cuts": np.asarray(fit.glmm.family.alpha, float), "link": fit.link}
        extra["categories"] = cats
    else:
        center = np.log(fit.glmm.family.link.linkinv(eta))
        k = y.to_numpy(float).astype(np.int64)
        extra = {"size": fit.dispersion}
    probe = DiscreteShift(data, outcome, rows, family, center, np.empty(0), **extra)
    lo, hi = probe.cdf(k - 1, 0.0), probe.cdf(k, 0.0)
    u = lo + rng.uniform(size=len(rows)) * (hi - lo)
    return DiscreteShift(data, outcome, rows, family, center, u, **extra)
