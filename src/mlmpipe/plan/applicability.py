"""Which multiverse choices have a meaning for the plan's response family.

A GLMM has no REML criterion and no Kenward-Roger df; the linear panel estimators would treat a
binary, count or ordinal outcome as continuous; the cluster-robust OLS and GEE alternatives have no
cumulative-link version. A specification with such a choice is recorded as not applicable (with
this reason) instead of being fitted, and the plan's primary specification is the first one that
applies.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Axis wording of the specification curve per link: the scale of the estimates.
SCALES = {
    "logit": "log-odds (logit scale)",
    "probit": "probit scale",
    "cloglog": "complementary log-log scale",
    "log": "log scale (log rate ratio)",
}
#: Alternative estimators that are linear panel models (linearmodels).
LINEAR_PANEL = ("within", "between", "random_effects")


def default_link(family: str) -> str:
    """Canonical link of ``family`` (as :func:`mlmpipe.fit` chooses it)."""
    return "logit" if family in ("binomial", "ordinal") else "log"


def scale_label(glmm: Mapping | None) -> str | None:
    """The scale of the estimates, for the curve's axis (None for gaussian plans)."""
    if not glmm:
        return None
    link = glmm.get("link") or default_link(glmm["family"])
    label = SCALES.get(link, f"{link} scale")
    return f"latent {label}" if glmm["family"] == "ordinal" else label


def not_applicable(choices: Mapping, glmm: Mapping | None) -> str | None:
    """Why this specification has no meaning for the plan's family (None: it applies)."""
    if not glmm:
        return None
    fam = glmm["family"]
    method = choices.get("method")
    if method == "mlm" and choices.get("estimator") == "reml":
        return (
            f"not applicable: a {fam} GLMM has no REML criterion; it is fitted by maximum "
            "likelihood (estimator: ml)"
        )
    if method == "mlm" and choices.get("df") == "kenward_roger":
        return (
            f"not applicable: Kenward-Roger df are defined for REML linear mixed models; a {fam} "
            "GLMM is tested by Wald z"
        )
    if method in LINEAR_PANEL:
        return (
            f"not applicable: the {method} estimator (linearmodels) is a linear panel estimator "
            f"and would treat the {fam} outcome as continuous"
        )
    if fam == "ordinal" and method in ("ols_cluster", "gee"):
        return f"not applicable: method {method} has no cumulative-link version in mlmpipe"
    return None
