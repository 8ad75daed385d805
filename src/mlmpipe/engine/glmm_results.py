"""The fitted GLMM: the LMM result layout with z tests, exponentiated effects and latent-scale ICCs.

``to_dict()`` has the keys of ``LmmResult.to_dict()``; fixed rows carry ``z`` (and ``t`` = z for
readers of the LMM layout) with ``df`` null, plus ``exp_estimate``, ``exp_ci_low``, ``exp_ci_high``
(odds or rate ratios) for logit and log links. ``loglik`` is the Laplace or AGHQ log-likelihood.
The ICC uses the latent-scale level-1 variance (pi^2/3 logit, 1 probit, pi^2/6 cloglog; Snijders &
Bosker 2012, sec. 17.3); for Poisson (log link) the VPC uses the lognormal approximation
``log(1 + 1/lambda)`` with ``lambda = exp(beta_0 + sigma^2_total / 2)`` (Nakagawa, Johnson &
Schielzeth 2017, J. R. Soc. Interface 14).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# scipy.special, not scipy.stats (0.4 s of start-up): the same functions scipy.stats calls
from scipy import special

from mlmpipe.engine.results import LmmResult


@dataclass
class GlmmResult(LmmResult):
    """A fitted GLMM (``sigma`` is 1: variance components are on the link scale)."""

    glmm: Any = None
    state: Any = None
    glmm_deviance: float = float("nan")
    extra: dict = field(default_factory=dict)

    @property
    def reml(self) -> bool:
        return False

    @property
    def family(self) -> str:
        return self.glmm.family.name

    @property
    def link(self) -> str:
        return self.glmm.family.link.name

    @property
    def npar(self) -> int:
        return self.model.p + self.model.ntheta + self.glmm.nextra

    @property
    def dispersion(self) -> float | None:
        """NB2 size ``k`` (glmmTMB's ``sigma()`` for ``nbinom2``); None for other families."""
        return self.glmm.family.k

    @property
    def criterion(self) -> float:
        """-2 log-likelihood by the Laplace approximation or AGHQ."""
        return self.glmm_deviance

    # ------------------------------------------------------------ fixed effects
    def fixed_table(self) -> pd.DataFrame:
        """Estimate, SE, z, p and the normal Wald interval; exponentiated for logit/log links."""
        se = np.sqrt(np.diag(self.vcov))
        z = self.beta / se
        q = special.ndtri(1 - self.alpha / 2)  # normal quantile
        lo, hi = self.beta - q * se, self.beta + q * se
        out = pd.DataFrame(
            {
                "term": list(self.model.fixed_names),
                "estimate": self.beta,
                "se": se,
                "df": np.full(len(se), np.nan),
                "z": z,
                "t": z,
                "p": 2 * special.ndtr(-np.abs(z)),  # normal upper tail
                "ci_low": lo,
                "ci_high": hi,
            }
        )
        if self.link in ("logit", "log"):
            out["exp_estimate"] = np.exp(self.beta)
            out["exp_ci_low"] = np.exp(lo)
            out["exp_ci_high"] = np.exp(hi)
        return out

    def thresholds(self) -> list[dict] | None:
        """Ordinal thresholds ``alpha_j`` (``"j|j+1"``) with delta-method SEs; None otherwise."""
        fam = self.glmm.family
        if fam.name != "ordinal":
            return None
        g = self.glmm
        extra = np.asarray(self.optsum.theta_end[g.ntheta + g.p :], float)
        se = [None] * len(fam.alpha)
        if getattr(g, "hinv", None) is not None:
            J = fam.thresholds_jacobian(extra)
            V = J @ g.hinv[g.ntheta + g.p :, g.ntheta + g.p :] @ J.T
            se = np.sqrt(np.diag(V)).tolist()
        return [
            {"term": nm, "estimate": float(a), "se": s}
            for nm, a, s in zip(fam.threshold_names, fam.alpha, se, strict=True)
        ]

    # ---------------------------------------------------- variance components
    def varcorr(self) -> pd.DataFrame:
        vc = super().varcorr()
        return vc[vc["group"] != "Residual"].reset_index(drop=True)

    def level1_variance(self) -> float:
        """Level-1 variance on the latent (link) scale used by the ICC/VPC."""
        fam = self.glmm.family
        if fam.latent_variance is not None:
            return float(fam.latent_variance)
        total = self.intercept_variances().sum()
        b0 = self.beta[0] if self.model.fixed_names[:1] == ("(Intercept)",) else 0.0
        lam = np.exp(b0 + total / 2)
        extra = 1 / fam.k if fam.k else 0.0  # NB2: log(1 + 1/lambda + 1/k)
        return float(np.log1p(1 / lam + extra))

    def intercept_variances(self) -> pd.Series:
        vc = self.varcorr()
        rows = vc[(vc["term1"] == "(Intercept)") & vc["term2"].isna()]
        return pd.Series(rows["vcov"].to_numpy(float), index=rows["group"].tolist())

    def icc(self) -> dict[str, float]:
        """ICC (VPC for Poisson) per grouping factor from the random-intercept variances."""
        iv = self.intercept_variances()
        denom = iv.sum() + self.level1_variance()
        return {g: float(v / denom) for g, v in iv.items()}

    # ------------------------------------------------------ conditional modes
    def _modes_internal(self) -> list[np.ndarray]:
        return self.state.us

    def linear_predictor(self) -> np.ndarray:
        """eta = offset + X beta + Z b over the rows used."""
        return self.state.eta

    def fitted(self) -> np.ndarray:
        """Conditional means mu (probabilities for binomial, counts for Poisson)."""
        return self.state.mu

    def residuals(self) -> np.ndarray:
        """Deviance residuals sign(y - mu) sqrt(d_i), as R's ``residuals(glmerMod)``."""
        g = self.glmm
        d = g.family.dev_resid(g.y, self.state.mu, g.wt)
        return np.sign(g.y - self.state.mu) * np.sqrt(np.maximum(d, 0))

    def predict(self, newdata: pd.DataFrame, re: bool = True, type: str = "response") -> np.ndarray:
        """Cluster-specific (``re=True``) or fixed-part (``re=False``) predictions on the response
        (``type="response"``) or link scale (``type="link"``)."""
        eta = super().predict(newdata, re=re)
        return eta if type == "link" else self.glmm.family.link.linkinv(eta)

    # ------------------------------------------------------------- output
    def to_dict(self, include_ranef: bool = True) -> dict[str, Any]:
        d = super().to_dict(include_ranef=include_ranef)
        d.update(
            {
                "family": self.family,
                "link": self.link,
                "nagq": self.glmm.nagq,
                "dispersion": self.dispersion,
                "thresholds": self.thresholds(),
                "sigma": 1.0,  # as lme4's sigma(glmerMod): no residual scale
                "icc": self.icc(),
                "icc_scale": "latent" if self.glmm.family.latent_variance else "vpc-lognormal",
                "level1_variance": self.level1_variance(),
            }
        )
        return d

    def summary(self) -> str:
        """Text summary in the spirit of lme4's ``summary(glmerMod)``."""
        how = "Laplace approximation" if self.glmm.nagq <= 1 else f"AGHQ ({self.glmm.nagq} nodes)"
        lines = [
            f"Generalized linear mixed model fit by maximum likelihood ({how}) [mlmpipe engine]",
            f" Family: {self.family} ({self.link})",
            f"Formula: {self.model.design.formula}",
            "",
            f"     AIC      BIC   logLik deviance\n{self.aic:8.1f} {self.bic:8.1f} "
            f"{self.loglik:8.1f} {self.criterion:8.1f}",
            "",
            "Random effects:",
        ]
        for _, row in self.varcorr().iterrows():
            if row.term2 is None or (isinstance(row.term2, float) and np.isnan(row.term2)):
                lines.append(f" {row.group:<12} {row.term1:<16} {row.vcov:10.4f} {row.sdcor:9.4f}")
            else:
                lines.append(f"   corr({row.group}: {row.term1}, {row.term2}) = {row.sdcor:.3f}")
        ng = ", ".join(f"{g}, {n}" for g, n in self.ngroups.items())
        lines += [f"Number of obs: {self.nobs}, groups:  {ng}", "", "Fixed effects:"]
        lines.append(
            f" {'':<22} {'Estimate':>10} {'Std.Error':>10} {'z value':>8} {'Pr(>|z|)':>10}"
        )
        for _, row in self.fixed_table().iterrows():
            lines.append(
                f" {row.term:<22} {row.estimate:10.4f} {row.se:10.4f} {row.z:8.3f} {row.p:10.3g}"
            )
        return "\n".join(lines + self._summary_footer())
