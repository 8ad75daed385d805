"""The priors of a plan in words, for the preregistration document (and the methods text).

Bayesian modal estimation (``estimation.method: bayes_modal``, the ladder's ``bayes_modal`` rung):
priors on the random-effect covariances as in R's blme (Chung, Rabe-Hesketh, Dorie, Gelman & Liu
2013).
"""

from __future__ import annotations

import json
from typing import Any

BLME_DEFAULT = (
    "blme's default: a Wishart prior with df = q + 2.5 and infinite scale on each term's relative "
    "covariance (for one SD a gamma(2.5, rate 0) prior), whose density vanishes on the boundary"
)


def rung_prior_text(prior: Any) -> str:
    """A Bayesian modal prior (plan ``estimation.prior`` / ``convergence.prior``) in words."""
    if prior is None or prior == "blme":
        return BLME_DEFAULT
    if isinstance(prior, str):
        return f"{prior} prior on the random-effect covariances (blme's defaults of {prior})"
    return "the prior " + json.dumps(prior, sort_keys=True, default=str)


def estimation_method_lines(estimation: dict) -> list[str]:
    """Bullet lines on the estimation method and its priors (none for likelihood fits)."""
    method = estimation.get("method")
    if method == "bayes_modal":
        return [
            "- Estimation method: Bayesian modal (the posterior mode over the covariance "
            "parameters; Chung et al. 2013), SEs, CIs and df as for ML/REML",
            f"- Prior: {rung_prior_text(estimation.get('prior'))}",
        ]
    return []
