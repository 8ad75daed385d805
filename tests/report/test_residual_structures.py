"""The residual-structure comparison table of the report (mlmpipe.report.residual_structures) on
real fits of the egsingle example (first 12 schools): structures, parameter counts, LRTs against
the nearest nested structure, the CAR(1) boundary mixture and the Method sentence."""

from __future__ import annotations

import warnings

import pytest
from scipy import stats

import mlmpipe
from mlmpipe.data.example import load_example
from mlmpipe.record.capture import record_from_result
from mlmpipe.report import residual_structures as rs

FORMULA = "math ~ year + (1 + year | schoolid) + (1 | childid)"
STRUCTURES = {
    "m0": {},
    "m1": {"correlation": "ar1(~ wave | childid)"},
    "m2": {"correlation": "car1(~ year | childid)"},
    "m3": {"variance": "ident(~ 1 | wave)"},
    "m4": {"correlation": "ar1(~ wave | childid)", "variance": "ident(~ 1 | wave)"},
}


@pytest.fixture(scope="module")
def fits():
    df = load_example("egsingle")
    df = df[df["schoolid"].isin(df["schoolid"].unique()[:12])]
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, kw in STRUCTURES.items():
            res = mlmpipe.fit(FORMULA, df, reml=True, **kw)
            out.append(record_from_result(res, model=name, estimator="reml"))
        # an ML fit and a model of another formula stay out of the comparison
        other = mlmpipe.fit("math ~ year + (1 | childid)", df, reml=True)
        out.append(record_from_result(other, model="m_other", estimator="reml"))
    return out


def test_table_rows_parameters_and_nested_lrts(fits):
    models = ["m_other", *STRUCTURES]
    t = rs.comparison_table(fits, models).set_index("model")
    assert list(t.index) == list(STRUCTURES)  # m_other has another formula
    assert list(t["structure"]) == [
        "independent", "AR(1) over wave", "CAR(1) over year", "varIdent by wave",
        "AR(1) over wave + varIdent by wave",
    ]  # fmt: skip
    base = t.loc["m0", "parameters"]
    assert list(t["parameters"] - base) == [0, 1, 1, 5, 6]  # phi; 5 SD ratios of 6 waves
    assert list(t["vs"]) == ["", "m0", "m0", "m0", "m3"]  # nearest earlier nested structure
    ll = {f.model: f.loglik for f in fits}
    chi2 = 2 * (ll["m1"] - ll["m0"])
    assert t.loc["m1", "chi2"] == pytest.approx(chi2, abs=0.01)
    assert t.loc["m1", "p"] == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-6)
    # CAR(1) phi = 0 is on the boundary: 50:50 mixture of chi2(0) and chi2(1)
    chi2c = 2 * (ll["m2"] - ll["m0"])
    assert t.loc["m2", "p"] == pytest.approx(0.5 * stats.chi2.sf(chi2c, 1), rel=1e-6)
    assert t.loc["m4", "df"] == 1  # phi added to the varIdent structure
    assert t.loc["m0", "AIC"] == pytest.approx(-2 * ll["m0"] + 2 * base, abs=0.01)


def test_parameter_table_carries_the_record_ses_and_cis(fits):
    p = rs.parameter_table(fits, list(STRUCTURES))
    rec = next(f for f in fits if f.model == "m4")
    phi = p[(p["model"] == "m4") & (p["parameter"] == "phi")].iloc[0]
    assert phi["estimate"] == pytest.approx(rec.residual["phi"], abs=1e-4)
    assert phi["SE"] == pytest.approx(rec.residual["phi_se"], abs=1e-4)
    assert phi["CI low"] < phi["estimate"] < phi["CI high"]
    ratios = p[(p["model"] == "m4") & p["parameter"].str.startswith("SD ratio")]
    assert len(ratios) == 6 and ratios["estimate"].iloc[0] == 1.0  # reference wave 0
    assert "m0" not in set(p["model"])  # independent: no residual parameters


def test_method_sentence_names_the_best_structure(fits):
    t = rs.comparison_table(fits, list(STRUCTURES))
    best = t.loc[t["AIC"].idxmin(), "structure"]
    text = rs.method_sentence(fits, list(STRUCTURES))
    assert text.startswith("Level-1 residual structures (independent, AR(1) over wave")
    assert f"AIC favoured {best}" in text
    assert rs.comparison_table(fits, ["m_other"]) is None
    assert rs.method_sentence(fits, ["m_other", "m0"]) == ""
