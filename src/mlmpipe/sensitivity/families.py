"""The multiverse of a non-gaussian plan (``estimation.family`` binomial, poisson, negbin, ordinal).

A specification's definition carries the plan's ``glmm`` options (``family``, ``link``, ``nagq``;
absent for gaussian plans, whose definitions and IDs are unchanged). Then:

* ``method: mlm`` fits the specification's formula as a GLMM by maximum likelihood (Laplace or
  adaptive Gauss-Hermite quadrature, the plan's ``nagq``) through the plan's convergence ladder;
  estimates are on the link scale with Wald z tests (no df).
* ``method: ols_cluster`` becomes its single-level generalized analogue: a GLM of the same family
  and link (statsmodels ``GLM``; for ``negbin`` the NB2 model with its dispersion estimated by
  maximum likelihood, statsmodels ``NegativeBinomial``) with cluster-robust sandwich SEs
  (``cov_type="cluster"``, statsmodels' small-sample factor G/(G-1) (N-1)/(N-K)) and a normal
  reference (Cameron & Miller 2015, J. Human Resources 50(2), sec. VI).
* ``method: gee``: GEE with the family and link and an exchangeable working correlation, robust
  SEs, normal reference (Liang & Zeger 1986, Biometrika 73(1)); for ``negbin`` the variance
  function mu + alpha mu^2 takes alpha from the single-level NB2 fit. GEE and the GLM estimate
  population-averaged coefficients, which for non-identity links are smaller in magnitude than
  the cluster-specific GLMM coefficients (by about 1 / sqrt(1 + 0.346 sigma_u^2) for the logit;
  Zeger, Liang & Albert 1988, Biometrics 44(4)): the specification curve shows that attenuation,
  it is not an error.

Choices that have no meaning for these families are recorded as ``status: not_applicable`` with
the reason (:func:`not_applicable`): REML (no REML criterion for GLMMs), Kenward-Roger df (defined
for REML linear mixed models), linearmodels' within / between / random-effects estimators (linear
panel estimators; a within estimator for a logit model would be conditional logistic regression,
which mlmpipe does not have), and for ordinal outcomes the GLM and GEE alternatives. Dropping
influential clusters applies: their Cook's distances come from the base GLMM
(:mod:`mlmpipe.sensitivity.influence`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mlmpipe.plan.applicability import (
    default_link,
)
from mlmpipe.sensitivity.alternatives import _design, _info, _table


def sm_family(glmm: dict, alpha: float | None = None):
    """statsmodels family with the plan's link (``alpha``: the NB2 dispersion for ``negbin``)."""
    import statsmodels.api as sm  # heavy (statsmodels): the GLM estimators only

    links = sm.families.links
    link = glmm.get("link") or default_link(glmm["family"])
    lk = {"logit": links.Logit, "probit": links.Probit, "cloglog": links.CLogLog, "log": links.Log}
    if link not in lk:
        raise ValueError(f"link {link!r} has no statsmodels counterpart here")
    fam = glmm["family"]
    if fam == "binomial":
        return sm.families.Binomial(link=lk[link]())
    if fam == "poisson":
        return sm.families.Poisson(link=lk[link]())
    if fam == "negbin":
        return sm.families.NegativeBinomial(link=lk[link](), alpha=alpha)
    raise ValueError(f"family {fam!r} has no statsmodels GLM here")


def _nb2(y: np.ndarray, X: pd.DataFrame, codes: np.ndarray, glmm: dict):
    """NB2 regression (dispersion by ML) with cluster-robust SEs; returns (result, alpha)."""
    import statsmodels.api as sm  # heavy (statsmodels): the GLM estimators only

    link = glmm.get("link") or "log"
    if link != "log":
        raise ValueError(f"negbin with link {link!r}: the NB2 regression has the log link only")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked below
        res = sm.NegativeBinomial(y, X, loglike_method="nb2").fit(
            cov_type="cluster", cov_kwds={"groups": codes}, disp=0, maxiter=200
        )
    if not res.mle_retvals.get("converged", True):
        raise ValueError("the NB2 regression did not converge")
    return res, float(res.params.iloc[-1])


def glm_cluster(data: pd.DataFrame, f: str, d: dict) -> tuple[pd.DataFrame, dict]:
    """Single-level GLM of the plan's family with cluster-robust SEs (the ``ols_cluster`` option)."""
    import statsmodels.api as sm  # heavy (statsmodels): this estimator only

    X, y, codes = _design(data, f)
    glmm = d["glmm"]
    if glmm["family"] == "negbin":
        res, alpha = _nb2(y, X, codes, glmm)
        k = X.shape[1]
        table = _table(X.columns, res.params.iloc[:k], res.bse.iloc[:k], np.inf, d["alpha"])
        return table, _info(y, codes, estimator="NB2 regression, cluster-robust", dispersion=alpha)
    res = sm.GLM(y, X, family=sm_family(glmm)).fit(cov_type="cluster", cov_kwds={"groups": codes})
    table = _table(X.columns, res.params, res.bse, np.inf, d["alpha"])
    return table, _info(y, codes, estimator=f"{glmm['family']} GLM, cluster-robust")


def gee_family(data: pd.DataFrame, f: str, d: dict) -> tuple[pd.DataFrame, dict]:
    """GEE with the plan's family and link, exchangeable working correlation (the ``gee`` option)."""
    import statsmodels.api as sm  # heavy (statsmodels): this estimator only

    X, y, codes = _design(data, f)
    glmm = d["glmm"]
    alpha = _nb2(y, X, codes, glmm)[1] if glmm["family"] == "negbin" else None
    model = sm.GEE(
        y, X, groups=codes, family=sm_family(glmm, alpha), cov_struct=sm.cov_struct.Exchangeable()
    )
    res = model.fit()
    rho = float(model.cov_struct.dep_params)
    table = _table(X.columns, res.params, res.bse, np.inf, d["alpha"])
    more = {"working_correlation": rho} | ({"dispersion": alpha} if alpha is not None else {})
    return table, _info(y, codes, **more)


#: Alternative estimators of non-gaussian plans, by option name.
ESTIMATORS = {"ols_cluster": glm_cluster, "gee": gee_family}
