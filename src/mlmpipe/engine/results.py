"""The fitted linear mixed model: estimates, variance components, conditional modes, predictions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# scipy.special, not scipy.stats (0.4 s of start-up): the same functions scipy.stats calls
from scipy import special

from mlmpipe.engine.condvar import spherical_condvar
from mlmpipe.engine.lmm import Factorization, LinearMixedModel
from mlmpipe.engine.optimize import OptSummary
from mlmpipe.formula import new_data_matrices


@dataclass
class LmmResult:
    """A fitted linear mixed model (the engine's result; see ``to_dict`` for the stored layout)."""

    model: LinearMixedModel
    theta: np.ndarray
    factor: Factorization
    beta: np.ndarray
    sigma: float
    vcov: np.ndarray
    df: np.ndarray
    optsum: OptSummary
    warnings: list[str] = field(default_factory=list)
    alpha: float = 0.05
    df_method: str = "satterthwaite"  # vcov and df are Kenward-Roger adjusted for "kenward_roger"
    weights_label: str | None = None  # the observation-weights column (``"<array>"``: given values)
    residual: dict | None = None  # the R-side residual structure's parameters (engine.residual)

    # ---------------------------------------------------------------- basics
    @property
    def reml(self) -> bool:
        return self.model.reml

    @property
    def nobs(self) -> int:
        return self.model.n

    @property
    def rows(self) -> np.ndarray:
        """Positions (iloc) of the data rows used in the fit."""
        return self.model.design.rows

    @property
    def converged(self) -> bool:
        return self.optsum.converged

    @property
    def singular(self) -> bool:
        return self.optsum.singular

    @property
    def npar(self) -> int:
        return self.model.p + self.model.ntheta + 1 + self.model.nresid_par

    @property
    def criterion(self) -> float:
        """REML criterion (REML fits) or deviance -2 logLik (ML fits)."""
        return self.model.deviance_from(self.factor)

    @property
    def loglik(self) -> float:
        return -0.5 * self.criterion

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.npar

    @property
    def bic(self) -> float:
        return -2 * self.loglik + self.npar * np.log(self.nobs)

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(self.beta, index=list(self.model.fixed_names), name="estimate")

    @property
    def ngroups(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.model.reterms:
            out.setdefault(r.term.group, r.m)
        return out

    # ------------------------------------------------------- fixed effects
    def fixed_table(self) -> pd.DataFrame:
        """Estimate, SE, df (``df_method``), t, p and the t(df)-based Wald interval."""
        se = np.sqrt(np.diag(self.vcov))
        t = self.beta / se
        p = 2 * special.stdtr(self.df, -np.abs(t))  # t(df) upper tail
        q = special.stdtrit(self.df, 1 - self.alpha / 2)  # t(df) quantile
        return pd.DataFrame(
            {
                "term": list(self.model.fixed_names),
                "estimate": self.beta,
                "se": se,
                "df": self.df,
                "t": t,
                "p": p,
                "ci_low": self.beta - q * se,
                "ci_high": self.beta + q * se,
            }
        )

    # ---------------------------------------------------- variance components
    def covariance_matrices(self) -> dict[str, np.ndarray]:
        """Sigma_i = sigma^2 T_i T_i' for each term, keyed by the (unique) group name."""
        out = {}
        for r, sl in zip(self.model.reterms, self.model.theta_index, strict=True):
            T = r.T(self.theta[sl])
            out[r.name] = self.sigma**2 * (T @ T.T)
        return out

    def varcorr(self) -> pd.DataFrame:
        """Rows as R's ``as.data.frame(VarCorr(m))``: group, term1, term2, vcov, sdcor."""
        rows = []
        covs = self.covariance_matrices()
        for r in self.model.reterms:
            S = covs[r.name]
            names = r.term.names
            sd = np.sqrt(np.diag(S))
            for a, nm in enumerate(names):
                rows.append((r.name, nm, None, S[a, a], sd[a]))
            for b in range(len(names)):
                for a in range(b + 1, len(names)):
                    den = sd[a] * sd[b]
                    cor = S[a, b] / den if den > 0 else float("nan")
                    rows.append((r.name, names[b], names[a], S[a, b], cor))
        rows.append(("Residual", None, None, self.sigma**2, self.sigma))
        return pd.DataFrame(rows, columns=["group", "term1", "term2", "vcov", "sdcor"])

    # ------------------------------------------------------ conditional modes
    def _modes_internal(self) -> list[np.ndarray]:
        return self.model.spherical_modes(self.factor, self.beta)

    def ranef_arrays(self) -> dict[str, np.ndarray]:
        """Conditional modes b (BLUPs) per term as (levels, q) arrays, keyed by group name."""
        us = self._modes_internal()
        out = {}
        m = self.model
        for pos, i in enumerate(m.order):
            r = m.reterms[i]
            T = r.T(self.theta[m.theta_index[i]])
            out[r.name] = us[pos].reshape(r.m, r.q) @ T.T
        return {r.name: out[r.name] for r in m.reterms}

    def _by_factor(self) -> dict[str, list]:
        """Terms grouped by grouping factor, as lme4's ``ranef`` groups them ((x || g) gives one
        frame for g with both columns)."""
        groups: dict[str, list] = {}
        for r in self.model.reterms:
            groups.setdefault(r.term.group, []).append(r)
        return groups

    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes per grouping factor as data frames (index = levels, columns = terms)."""
        arr = self.ranef_arrays()
        return {
            g: pd.DataFrame(
                np.hstack([arr[r.name] for r in rs]),
                index=list(rs[0].term.levels),
                columns=[nm for r in rs for nm in r.term.names],
            )
            for g, rs in self._by_factor().items()
        }

    def condvar(self) -> dict[str, np.ndarray] | None:
        """Conditional covariance of b given y, per level: sigma^2 T [(L L')^{-1}]_ll T' (lme4's
        ``condVar``); None when a dense intermediate would be too large (huge crossed designs)."""
        m = self.model
        sizes = [(m.reterms[i].m, m.reterms[i].q) for i in m.order]
        blocks = spherical_condvar(self.factor.L, sizes)
        if blocks is None:
            return None
        out = {}
        for pos, i in enumerate(m.order):
            r = m.reterms[i]
            T = r.T(self.theta[m.theta_index[i]])
            out[r.name] = self.sigma**2 * (T @ blocks[pos] @ T.T)
        return {r.name: out[r.name] for r in m.reterms}

    # ---------------------------------------------------------- predictions
    def fitted(self) -> np.ndarray:
        """X beta + Z b (+ offset) over the rows used."""
        m = self.model
        eta = m.X @ self.beta
        us = self._modes_internal()
        for pos, i in enumerate(m.order):
            r = m.reterms[i]
            T = r.T(self.theta[m.theta_index[i]])
            b = (us[pos].reshape(r.m, r.q) @ T.T).ravel()
            eta = eta + m._Zs[pos] @ b
        if m.offset is not None:
            eta = eta + m.offset
        return eta

    def residuals(self) -> np.ndarray:
        """Level-1 (conditional) residuals y - fitted."""
        y = self.model.y if self.model.offset is None else self.model.y + self.model.offset
        return y - self.fitted()

    def predict(self, newdata: pd.DataFrame, re: bool = True) -> np.ndarray:
        """Predictions for new rows; levels unseen in the fit get the population prediction."""
        m = self.model
        X_new, codes_new, Z_new, off_new = new_data_matrices(m.design, newdata)
        if X_new.shape[1] == len(m.design.fixed_names) + 1:  # ordinal: thresholds replaced the
            X_new = X_new[:, 1:]  # intercept column the formula still builds (engine/glmm.py)
        keep = [list(m.design.fixed_names).index(nm) for nm in m.fixed_names]
        eta = np.asarray(X_new, float)[:, keep] @ self.beta
        if off_new is not None:
            eta = eta + off_new
        if re:
            ranef = self.ranef_arrays()
            design_terms = list(m.design.re_terms)
            for r in m.reterms:
                k = next(j for j, t in enumerate(design_terms) if t is r.term)
                codes = np.asarray(codes_new[k])
                seen = codes >= 0
                b = ranef[r.name]
                contrib = np.zeros(len(codes))
                contrib[seen] = np.einsum("ia,ia->i", np.asarray(Z_new[k])[seen], b[codes[seen]])
                eta = eta + contrib
        return eta

    # ------------------------------------------------------------- output
    def to_dict(self, include_ranef: bool = True) -> dict[str, Any]:
        """The JSON artifact the pipeline stores (layout shared with the statsmodels backend)."""
        fixed = self.fixed_table()
        d: dict[str, Any] = {
            "backend": "mlmpipe",
            "formula": self.model.design.formula,
            "reml": self.reml,
            "nobs": self.nobs,
            "ngroups": self.ngroups,
            "fixed": _records(fixed),
            "random": _records(self.varcorr()),
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            "deviance": self.criterion,
            "npar": self.npar,
            "sigma": self.sigma,
            "theta": [float(v) for v in self.theta],
            "converged": self.converged,
            "singular": self.singular,
            "warnings": list(self.warnings),
            "dropped_columns": list(self.model.dropped),
            "optimizer": self.optsum.to_dict(),
            "df_method": self.df_method,
        }
        if self.model.weights is not None:
            d["weights"] = self.weights_label or "<array>"
        if self.residual is not None:
            d["residual"] = dict(self.residual)
        if getattr(self, "prior", None) is not None:  # Bayesian modal fit (engine/priors.py)
            d["prior"] = self.prior.describe()
            d["penalised_criterion"] = self.penalised_criterion
        if include_ranef:
            d["ranef"] = self._ranef_dict()
        return d

    def _ranef_dict(self) -> dict[str, Any]:
        vals = self.ranef_arrays()
        cv = self.condvar()
        out = {}
        for g, rs in self._by_factor().items():
            entry: dict[str, Any] = {
                "levels": [str(v) for v in rs[0].term.levels],
                "terms": [nm for r in rs for nm in r.term.names],
                "values": np.hstack([vals[r.name] for r in rs]).tolist(),
            }
            if cv is not None:
                sds = [np.sqrt(np.diagonal(cv[r.name], axis1=1, axis2=2)) for r in rs]
                entry["condsd"] = np.hstack(sds).tolist()
            out[g] = entry
        return out

    def _summary_footer(self) -> list[str]:
        """Closing lines of ``summary()``: the singular-fit notice and every warning."""
        lines = ["boundary (singular) fit: see help('isSingular')"] if self.singular else []
        return lines + [f"warning: {w}" for w in self.warnings]

    def summary(self) -> str:
        """Text summary in the spirit of lme4's ``summary(merMod)``."""
        m = self.model
        lines = [
            f"Linear mixed model fit by {'REML' if self.reml else 'maximum likelihood'}"
            f" (mlmpipe engine; {_DF_LABEL.get(self.df_method, self.df_method)} df)",
            f"Formula: {m.design.formula}",
        ]
        if m.weights is not None:
            lines.append(f"Weights: {self.weights_label or '<array>'}")
        lines += _residual_lines(self.residual)
        lines.append("")
        if self.reml:
            lines.append(f"REML criterion at convergence: {self.criterion:.4f}")
        else:
            lines.append(
                f"     AIC      BIC   logLik deviance\n{self.aic:8.1f} {self.bic:8.1f} "
                f"{self.loglik:8.1f} {self.criterion:8.1f}"
            )
        lines += ["", "Random effects:"]
        vc = self.varcorr()
        lines.append(f" {'Groups':<12} {'Name':<16} {'Variance':>10} {'Std.Dev.':>9}  Corr")
        for _, row in vc.iterrows():
            if _missing(row.term2):
                t1 = "" if _missing(row.term1) else row.term1
                lines.append(f" {row.group:<12} {t1:<16} {row.vcov:10.4f} {row.sdcor:9.4f}")
        for _, row in vc.iterrows():
            if not _missing(row.term2):
                lines.append(f"   corr({row.group}: {row.term1}, {row.term2}) = {row.sdcor:.3f}")
        ng = ", ".join(f"{g}, {n}" for g, n in self.ngroups.items())
        lines += [f"Number of obs: {self.nobs}, groups:  {ng}", "", "Fixed effects:"]
        fx = self.fixed_table()
        lines.append(
            f" {'':<22} {'Estimate':>10} {'Std.Error':>10} {'df':>9} {'t value':>8} {'Pr(>|t|)':>10}"
        )
        for _, row in fx.iterrows():
            lines.append(
                f" {row.term:<22} {row.estimate:10.4f} {row.se:10.4f} {row.df:9.2f} "
                f"{row.t:8.3f} {row.p:10.3g}"
            )
        return "\n".join(lines + self._summary_footer())


_DF_LABEL = {"satterthwaite": "Satterthwaite", "kenward_roger": "Kenward-Roger"}


def _residual_lines(res: dict | None) -> list[str]:
    """The residual structure's parameters for ``summary()`` (none without one)."""
    if not res:
        return []
    out = []
    if "correlation" in res:
        out.append(
            f"Residual correlation: {res['correlation']}(~ {res['time']} | {res['subject']}), "
            f"phi = {res['phi']:.4f}"
        )
    if "variance_ratios" in res:
        ratios = ", ".join(f"{k}: {v:.4f}" for k, v in res["variance_ratios"].items())
        out.append(f"Residual SD ratios by {res['strata']}: {ratios}")
    return out


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    recs = []
    for row in df.to_dict(orient="records"):
        recs.append({k: _clean(v) for k, v in row.items()})
    return recs


def _clean(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if v is not None and pd.isna(v):
        return None
    return v
