"""Report tables as pandas DataFrames built from the pipeline's JSON artifacts and fit records."""

from __future__ import annotations

import pandas as pd

from mlmpipe.compare import comparison_table as _ct
from mlmpipe.data.descriptives import descriptives_table
from mlmpipe.record import FitRecord


def structure_table(desc: dict) -> pd.DataFrame:
    return pd.DataFrame(desc["structure"])


def cluster_size_table(desc: dict) -> pd.DataFrame:
    return pd.DataFrame(desc["cluster_sizes"])


def descriptives_by_level(desc: dict) -> dict[str, pd.DataFrame]:
    t = descriptives_table(desc)
    return {
        lv: g.dropna(axis=1, how="all").drop(columns="level")
        for lv, g in t.groupby("level", sort=False)
    }


def checks_table(checks: dict) -> pd.DataFrame:
    return pd.DataFrame(checks["checks"])[["name", "status", "message"]]


def missing_table(missing: dict) -> pd.DataFrame:
    return pd.DataFrame(missing["per_variable"])


def missing_patterns(missing: dict) -> pd.DataFrame:
    t = pd.DataFrame(missing["patterns"])
    t.attrs["columns"] = missing["variables_order"]
    return t


def centering_table(centering: dict) -> pd.DataFrame:
    return pd.DataFrame(centering["log"], columns=["variable", "method", "level", "description"])


def icc_table(comparison: dict) -> pd.DataFrame:
    icc = comparison["icc"]
    return pd.DataFrame(
        [
            {"level": g, "ICC": v, "model": icc["model"], "estimator": icc["estimator"]}
            for g, v in icc["values"].items()
        ]
    )


def fixed_table(rec: FitRecord) -> pd.DataFrame:
    """Fixed effects; GLMM fits (non-gaussian family) have Wald z tests and no df."""
    cols = ["term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
    if rec.family.is_glmm:
        cols = ["term", "estimate", "se", "z", "p", "ci_low", "ci_high"]
    # an ordinal null model has no fixed effects (thresholds only): an empty table with the columns
    return pd.DataFrame([r.to_dict() for r in rec.fixed], columns=cols)[cols]


def random_table(rec: FitRecord) -> pd.DataFrame:
    t = rec.random_frame()
    t["kind"] = ["variance" if r.is_variance else "covariance" for r in rec.random]
    return t[["group", "term1", "term2", "vcov", "sdcor", "kind"]].rename(
        columns={"vcov": "variance/covariance", "sdcor": "SD/correlation"}
    )


def fit_overview(recs: list[FitRecord]) -> pd.DataFrame:
    rows = []
    for f in recs:
        rows.append(
            {
                "model": f.model,
                "estimator": f.estimator,
                "nobs": f.nobs,
                **{f"N {g}": n for g, n in f.ngroups.items()},
                "npar": f.npar,
                "logLik": f.loglik,
                "AIC": f.aic,
                "BIC": f.bic,
                "deviance": f.deviance,
                "converged": f.converged,
                "singular": f.singular,
                "warnings": len(f.warnings),
            }
        )
    return pd.DataFrame(rows)


def comparison_table(comparison: dict) -> pd.DataFrame:
    return _ct(comparison)
