"""statsmodels MixedLM behind mlmpipe's result interface (a cross-check of the engine).

The design comes from ``mlmpipe.formula.build_design`` so names and contrasts are those of the
engine and of R. One grouping factor only (a random intercept and slopes from that term). Fixed
effects get residual df ``n - p`` (statsmodels has no Satterthwaite df); this is said in
``warnings``.
"""

from __future__ import annotations

import warnings as _warnings

import numpy as np
from scipy import stats

from mlmpipe.errors import EstimationError
from mlmpipe.formula import build_design

BACKEND = "statsmodels"


class StatsmodelsResult:
    """Fit result with the same ``to_dict()`` layout as the engine's result."""

    def __init__(self, *, formula, reml, design, sm_result, warnings, optimizer):
        self.formula = formula
        self.reml = reml
        self.design = design
        self._res = sm_result
        self.warnings = list(warnings)
        self.optimizer = optimizer
        self.rows = np.asarray(design.rows)
        self._dict = self._build()

    # ------------------------------------------------------------------ assembly
    def _build(self) -> dict:
        d, r = self.design, self._res
        term = d.re_terms[0]
        n, p = d.X.shape
        q = term.q
        beta = np.asarray(r.fe_params, dtype=float)
        sigma2 = float(r.scale)
        cov = np.asarray(r.cov_re, dtype=float).reshape(q, q)
        se = gls_standard_errors(d.X, term.Z, term.codes, cov, sigma2)
        df = float(n - p)
        tval = beta / se
        pval = 2 * stats.t.sf(np.abs(tval), df)
        crit = stats.t.ppf(0.975, df)
        fixed = [
            {
                "term": name,
                "estimate": float(beta[i]),
                "se": float(se[i]),
                "df": df,
                "t": float(tval[i]),
                "p": float(pval[i]),
                "ci_low": float(beta[i] - crit * se[i]),
                "ci_high": float(beta[i] + crit * se[i]),
            }
            for i, name in enumerate(d.fixed_names)
        ]
        sds = np.sqrt(np.clip(np.diag(cov), 0, None))
        random = [
            {
                "group": term.group,
                "term1": nm,
                "term2": None,
                "vcov": float(cov[i, i]),
                "sdcor": float(sds[i]),
            }
            for i, nm in enumerate(term.names)
        ]
        for j in range(q):
            for i in range(j + 1, q):
                corr = cov[i, j] / (sds[i] * sds[j]) if sds[i] > 0 and sds[j] > 0 else float("nan")
                random.append(
                    {
                        "group": term.group,
                        "term1": term.names[j],
                        "term2": term.names[i],
                        "vcov": float(cov[i, j]),
                        "sdcor": float(corr),
                    }
                )
        random.append(
            {
                "group": "Residual",
                "term1": None,
                "term2": None,
                "vcov": sigma2,
                "sdcor": float(np.sqrt(sigma2)),
            }
        )
        # theta: column-wise lower triangle of chol(cov / sigma^2), as lme4
        rel = cov / sigma2
        try:
            L = np.linalg.cholesky(rel + 0.0 * np.eye(q))
        except np.linalg.LinAlgError:
            w, v = np.linalg.eigh(rel)
            L = np.linalg.cholesky(v @ np.diag(np.clip(w, 1e-12, None)) @ v.T)
        theta = [float(L[i, j]) for j in range(q) for i in range(j, q)]
        diag_theta = np.array([L[j, j] for j in range(q)])
        singular = bool(np.any(diag_theta < 1e-4))
        npar = p + len(theta) + 1
        loglik = float(r.llf)
        aic = -2 * loglik + 2 * npar
        bic = -2 * loglik + np.log(n) * npar
        # random effects: conditional modes and conditional SDs per level
        values, condsd = [], []
        re = r.random_effects
        re_cov = r.random_effects_cov
        for code in range(term.nlevels):
            values.append([float(v) for v in np.asarray(re[code], dtype=float)])
            condsd.append(
                [float(v) for v in np.sqrt(np.clip(np.diag(np.asarray(re_cov[code])), 0, None))]
            )
        warnings = list(self.warnings)
        if singular:
            warnings.append(
                "boundary (singular) fit: a variance is near zero or a correlation near +-1"
            )
        return {
            "backend": BACKEND,
            "formula": self.formula,
            "reml": bool(self.reml),
            "nobs": int(n),
            "ngroups": {term.group: int(term.nlevels)},
            "fixed": fixed,
            "random": random,
            "loglik": loglik,
            "aic": float(aic),
            "bic": float(bic),
            "deviance": float(-2 * loglik),
            "npar": int(npar),
            "sigma": float(np.sqrt(sigma2)),
            "theta": theta,
            "converged": bool(r.converged),
            "singular": singular,
            "warnings": warnings,
            "optimizer": self.optimizer,
            "df_method": "residual",
            "ranef": {
                term.group: {
                    "levels": [str(x) for x in term.levels],
                    "terms": list(term.names),
                    "values": values,
                    "condsd": condsd,
                }
            },
        }

    # ------------------------------------------------------------------ interface
    def to_dict(self) -> dict:
        return self._dict

    def fitted(self) -> np.ndarray:
        return np.asarray(self._res.fittedvalues, dtype=float)

    def residuals(self) -> np.ndarray:
        return np.asarray(self.design.y, dtype=float) - self.fitted()

    def summary(self) -> str:
        return format_summary(self._dict)


def format_summary(d: dict) -> str:
    """lme4-like text summary of a result dict (used by both backends' results if they wish)."""
    crit = "REML" if d["reml"] else "maximum likelihood"
    lines = [
        f"Linear mixed model fit by {crit} [{d['backend']}]",
        f"Formula: {d['formula']}",
        "",
        "     AIC      BIC   logLik deviance" + ("(REML)" if d["reml"] else ""),
        f"{d['aic']:8.1f} {d['bic']:8.1f} {d['loglik']:8.1f} {d['deviance']:8.1f}",
        "",
        "Random effects:",
        f" {'Groups':<10} {'Name':<14} {'Variance':>10} {'Std.Dev.':>9} Corr",
    ]
    for row in d["random"]:
        if row["term2"] is None:
            lines.append(
                f" {row['group']:<10} {str(row['term1'] or ''):<14} {row['vcov']:10.4f} {row['sdcor']:9.4f}"
            )
    for row in d["random"]:
        if row["term2"] is not None:
            lines.append(
                f" {row['group']:<10} corr({row['term1']}, {row['term2']}) = {row['sdcor']:.3f}"
            )
    groups = ", ".join(f"{g}, {n}" for g, n in d["ngroups"].items())
    lines += [f"Number of obs: {d['nobs']}, groups: {groups}", "", "Fixed effects:"]
    lines.append(
        f" {'':<22} {'Estimate':>10} {'Std.Error':>10} {'df':>9} {'t value':>8} {'Pr(>|t|)':>10}"
    )
    for f in d["fixed"]:
        df = f["df"] if f["df"] is not None else float("nan")
        lines.append(
            f" {f['term']:<22} {f['estimate']:10.4f} {f['se']:10.4f} {df:9.1f} {f['t']:8.2f} {f['p']:10.3g}"
        )
    if not d["converged"]:
        lines.append("WARNING: the optimizer did not converge")
    for w in d["warnings"]:
        lines.append(f"note: {w}")
    return "\n".join(lines)


def gls_standard_errors(X, Z, codes, G, sigma2) -> np.ndarray:
    """SEs of beta from ``(X' V^-1 X)^-1`` at the estimates, as lme4's ``vcov`` (V block diagonal)."""
    p = X.shape[1]
    A = np.zeros((p, p))
    for g in np.unique(codes):
        idx = codes == g
        Xg, Zg = X[idx], Z[idx]
        V = Zg @ G @ Zg.T + sigma2 * np.eye(int(idx.sum()))
        A += Xg.T @ np.linalg.solve(V, Xg)
    return np.sqrt(np.diag(np.linalg.inv(A)))


def _check_estimable(design) -> None:
    n, p = design.X.shape
    if len(design.re_terms) != 1:
        groups = ", ".join(t.group for t in design.re_terms) or "none"
        raise EstimationError(
            f"{design.formula}: the statsmodels backend needs exactly one random-effects term "
            f"(got: {groups}); use backend 'mlmpipe'"
        )
    term = design.re_terms[0]
    nre = term.nlevels * term.q
    if nre >= n:
        raise EstimationError(
            f"{design.formula}: number of observations ({n}) <= number of random effects ({nre}) "
            f"for term ({' + '.join(term.names)} | {term.group}); the model cannot be estimated"
        )
    if term.nlevels < 2:
        raise EstimationError(
            f"{design.formula}: grouping factor {term.group!r} has a single level"
        )
    rank = np.linalg.matrix_rank(design.X)
    if rank < p:
        # name the columns that are linear combinations of earlier ones
        dropped, keep = [], []
        for j in range(p):
            if np.linalg.matrix_rank(design.X[:, keep + [j]]) > len(keep):
                keep.append(j)
            else:
                dropped.append(design.fixed_names[j])
        raise EstimationError(
            f"{design.formula}: fixed-effects model matrix is rank deficient; column(s) "
            f"{', '.join(dropped)} are linear combinations of the others"
        )


def fit_statsmodels(formula: str, data, reml: bool = True, **kwargs):
    """Fit ``formula`` (lme4 syntax, one grouping factor) with statsmodels MixedLM."""
    from statsmodels.regression.mixed_linear_model import MixedLM  # heavy (statsmodels): here only

    design = build_design(formula, data)
    _check_estimable(design)
    term = design.re_terms[0]
    y = np.asarray(design.y, dtype=float)
    model = MixedLM(endog=y, exog=design.X, groups=np.asarray(term.codes), exog_re=term.Z)
    notes = [
        f"fixed-effect df are residual df n - p = {design.X.shape[0] - design.X.shape[1]} "
        "(statsmodels backend; Satterthwaite df come from the mlmpipe engine)"
    ]
    methods = kwargs.pop("methods", ["bfgs", "lbfgs", "powell", "nm"])
    tried = []
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        res = None
        for method in methods:
            try:
                res = model.fit(reml=reml, method=[method], **kwargs)
            except (np.linalg.LinAlgError, ValueError) as exc:
                tried.append({"method": method, "error": str(exc).splitlines()[0]})
                continue
            ok = bool(res.converged) and np.isfinite(res.llf) and np.all(np.isfinite(res.bse_fe))
            tried.append(
                {"method": method, "converged": bool(res.converged), "llf": float(res.llf)}
            )
            if ok:
                break
            res_bad, res = res, None
        if res is None and tried and "converged" in tried[-1]:
            res = res_bad
    if res is None:
        raise EstimationError(
            f"{formula}: statsmodels MixedLM failed with every optimizer ({tried})"
        )
    for w in caught:
        msg = str(w.message).splitlines()[0]
        if msg not in notes:
            notes.append(f"statsmodels: {msg}")
    if len(tried) > 1:
        notes.append(f"optimizer fallbacks: {tried}")
    optimizer = {"package": "statsmodels", "attempts": tried, "method": tried[-1]["method"]}
    return StatsmodelsResult(
        formula=formula,
        reml=reml,
        design=design,
        sm_result=res,
        warnings=notes,
        optimizer=optimizer,
    )
