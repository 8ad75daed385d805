"""The multiverse of a non-gaussian plan: GLMM specifications, GLM / GEE alternatives of the family,
choices without meaning recorded as not applicable with their reason."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml

import mlmpipe
from mlmpipe.plan import Plan
from mlmpipe.plan.applicability import scale_label
from mlmpipe.plan.variants import influence_slice, spec_slice
from mlmpipe.record.capture import record_from_result
from mlmpipe.sensitivity import run_specification
from mlmpipe.sensitivity.families import gee_family, glm_cluster
from mlmpipe.sensitivity.figures import specification_curve
from mlmpipe.sensitivity.grid import spec_inputs
from mlmpipe.sensitivity.specification import prepare
from mlmpipe.sensitivity.summary import summarize

from .conftest import find_spec

ROOT = Path(__file__).resolve().parents[2]
DIMS = {
    "random": ["intercept"],
    "estimator": ["ml", "reml"],
    "df": ["satterthwaite", "kenward_roger"],
    "outliers": ["all", "drop_influential"],
    "method": ["mlm", "ols_cluster", "gee", "within"],
}


def binary_config(**dims) -> dict:
    cfg = yaml.safe_load((ROOT / "config/examples/hsb_binary.yaml").read_text())
    cfg["sensitivity"] = {"enabled": True, "focal": ["cses"], "dimensions": {**DIMS, **dims}}
    return cfg


@pytest.fixture(scope="module")
def binary_plan() -> Plan:
    return Plan.from_config(binary_config())


@pytest.fixture(scope="module")
def binary_small():
    """24 schools of the binary HSB example (fast GLMM fits)."""
    from mlmpipe.data.example import load_example

    df = load_example("hsb_binary")
    keep = list(df.drop_duplicates("school").groupby("sector").head(12)["school"])
    return df[df["school"].isin(keep)].reset_index(drop=True)


def center(data, s):
    return prepare(data, s)[0]


def test_glmm_specification_equals_a_direct_binomial_fit(binary_plan, binary_small):
    sens = binary_plan.sensitivity
    d = spec_slice(binary_plan, sens.primary.id)
    assert d.fit.glmm.to_dict() == {"family": "binomial", "link": None, "nagq": 1}
    res = run_specification(binary_small, d)
    assert res["status"] == "ok", res.get("reason")
    assert res["formula"] == "proficient ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)"
    data = center(binary_small, d)
    direct = mlmpipe.fit(res["formula"], data, reml=False, family="binomial")
    want = direct.fixed_table().set_index("term")
    for row in res["fixed"]:
        assert row["estimate"] == pytest.approx(want.loc[row["term"], "estimate"], rel=1e-8)
        assert row["se"] == pytest.approx(want.loc[row["term"], "se"], rel=1e-8)
        assert row["df"] is None  # Wald z: no df
    # on the logit scale, not a linear probability model: the SES slope is far above 0.2
    assert next(r["estimate"] for r in res["fixed"] if r["term"] == "cses") > 0.3


def test_glm_alternative_is_statsmodels_glm_with_cluster_robust_ses(binary_plan, binary_small):
    d = spec_slice(binary_plan, find_spec(binary_plan.sensitivity, method="ols_cluster").id)
    res = run_specification(binary_small, d)
    assert res["status"] == "ok"
    data = center(binary_small, d)
    X = pd.get_dummies(data[["cses", "minrty", "sx", "meanses", "sector"]], drop_first=True)
    X = sm.add_constant(X.astype(float))
    direct = sm.GLM(data["proficient"].astype(float), X, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": data["school"].astype("category").cat.codes}
    )
    got = {r["term"]: r for r in res["fixed"]}
    for term, col in [
        ("(Intercept)", "const"),
        ("cses", "cses"),
        ("sectorCatholic", "sector_Catholic"),
    ]:
        assert got[term]["estimate"] == pytest.approx(direct.params[col], rel=1e-8)
        assert got[term]["se"] == pytest.approx(direct.bse[col], rel=1e-8)
        assert got[term]["p"] == pytest.approx(direct.pvalues[col], rel=1e-6)


def _counts(family: str) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(30), 12)
    x = rng.normal(size=g.size)
    mu = np.exp(0.3 + 0.4 * x + rng.normal(0, 0.4, 30)[g])
    y = rng.poisson(mu) if family == "poisson" else rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.mark.parametrize("family", ["poisson", "negbin"])
def test_count_alternatives_match_statsmodels(family):
    df = _counts(family)
    d = {"glmm": {"family": family, "link": None, "nagq": 1}, "alpha": 0.05}
    table, info = glm_cluster(df, "y ~ x + (1 | g)", d)
    X = sm.add_constant(df[["x"]])
    if family == "poisson":
        direct = sm.GLM(df["y"], X, family=sm.families.Poisson()).fit(
            cov_type="cluster", cov_kwds={"groups": df["g"]}
        )
        params, bse = direct.params, direct.bse
    else:
        direct = sm.NegativeBinomial(df["y"], X, loglike_method="nb2").fit(
            cov_type="cluster", cov_kwds={"groups": df["g"]}, disp=0
        )
        params, bse = direct.params.iloc[:2], direct.bse.iloc[:2]
        assert info["dispersion"] == pytest.approx(direct.params["alpha"], rel=1e-6)
    np.testing.assert_allclose(table["estimate"], params, rtol=1e-6)
    np.testing.assert_allclose(table["se"], bse, rtol=1e-6)
    gtab, ginfo = gee_family(df, "y ~ x + (1 | g)", d)
    assert abs(gtab["estimate"].iloc[1] - 0.4) < 0.2 and -1 < ginfo["working_correlation"] < 1


@pytest.mark.parametrize(
    ("choices", "reason"),
    [
        ({"estimator": "reml"}, "not applicable: a binomial GLMM has no REML criterion"),
        ({"df": "kenward_roger"}, "not applicable: Kenward-Roger df are defined for REML"),
        ({"method": "within"}, "not applicable: the within estimator (linearmodels) is a linear"),
    ],
)
def test_options_without_meaning_are_not_applicable_with_reason(binary_plan, choices, reason):
    sens = binary_plan.sensitivity
    s = find_spec(sens, **choices)
    res = run_specification(pd.DataFrame(), spec_slice(binary_plan, s.id))  # nothing is fitted
    assert res["status"] == "not_applicable" and res["reason"].startswith(reason)
    assert spec_inputs(binary_plan, s.id) == []  # no influence job for these


def test_not_applicable_specs_are_counted_apart_and_axis_names_the_scale(binary_plan):
    sens = binary_plan.sensitivity
    ok = {"term": "cses", "estimate": 0.5, "se": 0.1, "df": None, "p": 1e-6}
    ok |= {"ci_low": 0.3, "ci_high": 0.7}
    results = []
    for s in sens.specifications:
        r = run_specification(pd.DataFrame(), spec_slice(binary_plan, s.id))
        if r["status"] != "not_applicable":  # applicable: pretend it was fitted
            r = {"id": s.id, "choices": s.choices, "status": "ok", "fixed": [ok]}
        results.append(r)
    spec = sens.summary_definition()
    assert spec["scale"] == "log-odds (logit scale)"
    summary, table = summarize(results, spec)
    rob = summary["focal"]["cses"]
    assert rob["estimated"] == 6 and rob["failed"] == 0
    assert rob["not_applicable"] == len(results) - 6
    fig = specification_curve(
        table, spec["dimensions"], "cses", primary=spec["primary"], scale=spec["scale"]
    )
    assert "estimate on the log-odds (logit scale)" in fig.axes[0].get_ylabel()


def test_the_primary_of_a_glmm_plan_is_its_first_applicable_specification(binary_plan):
    plan = Plan.from_config(binary_config(estimator=["reml", "ml"]))
    primary = plan.sensitivity.primary
    assert primary.choices["estimator"] == "ml" and primary.choices["df"] == "satterthwaite"
    assert set(plan.sensitivity.ids) == set(binary_plan.sensitivity.ids)  # same IDs, reordered
    assert plan.sensitivity.summary_definition()["primary"] == primary.id


def test_gaussian_definitions_carry_no_family(example_plan):
    sens = example_plan.sensitivity
    assert spec_slice(example_plan, sens.primary.id).fit.glmm is None
    assert "family" not in spec_slice(example_plan, sens.primary.id).to_dict()["fit"]
    assert "scale" not in sens.summary_definition()
    assert scale_label(None) is None
    assert scale_label({"family": "poisson", "link": None}) == "log scale (log rate ratio)"
    assert scale_label({"family": "ordinal", "link": "probit"}) == "latent probit scale"


def test_gaussian_spec_ids_are_unchanged(example_plan):
    # IDs of the example's first specifications before non-gaussian plans were handled (cached
    # artifacts of gaussian multiverses stay valid)
    assert example_plan.sensitivity.ids[:3] == ("s364a9e549d", "s5da16f7567", "s503993da91")


def test_ordinal_specification_is_a_cumulative_link_glmm(hsb_small):
    cfg = binary_config(method=["mlm", "gee"])
    cfg["outcome"] = {"name": "grade"}
    cfg["estimation"]["family"] = "ordinal"
    plan = Plan.from_config(cfg)
    glmm = {"family": "ordinal", "link": None, "nagq": 1}
    d = spec_slice(plan, plan.sensitivity.primary.id)
    assert d.fit.glmm.to_dict() == glmm
    cats = ["low", "middle", "high"]
    small = hsb_small.groupby("sector", observed=True).head(300).reset_index(drop=True)
    grade = pd.qcut(small["mAch"], 3, labels=cats).astype(pd.CategoricalDtype(cats, True))
    data = small.assign(grade=grade)
    res = run_specification(data, d)
    assert res["status"] == "ok", res.get("reason")
    direct = mlmpipe.fit(res["formula"], center(data, d), reml=False, **glmm)
    want = direct.fixed_table().set_index("term")
    assert "(Intercept)" not in want.index  # thresholds take its place
    for row in res["fixed"]:
        assert row["estimate"] == pytest.approx(want.loc[row["term"], "estimate"], rel=1e-8)
    gee = spec_slice(plan, find_spec(plan.sensitivity, method="gee").id)
    assert run_specification(data, gee)["reason"] == (
        "not applicable: method gee has no cumulative-link version in mlmpipe"
    )
    assert scale_label(glmm) == "latent log-odds (logit scale)"


def test_influential_clusters_of_a_binomial_plan_come_from_the_glmm(binary_plan, binary_small):
    from mlmpipe.diagnostics.influence import leave_one_cluster_out
    from mlmpipe.sensitivity.influence import cluster_influence

    sens = binary_plan.sensitivity
    infl = cluster_influence(binary_small, influence_slice(binary_plan))
    assert infl["method"].startswith("GLMM refits with the variance parameters")
    data = center(binary_small, spec_slice(binary_plan, sens.primary.id))
    fit = mlmpipe.fit(infl["formula"], data, reml=False, family="binomial")
    loo = leave_one_cluster_out(record_from_result(fit), data, "school")
    np.testing.assert_allclose(infl["cooks_distance"], [r["cooks_d"] for r in loo["table"]])
    assert infl["cutoff"] == pytest.approx(4 / 24)
    assert infl["flagged"] == [
        c for c, v in zip(infl["clusters"], infl["cooks_distance"], strict=True) if v > 4 / 24
    ]
    spec = find_spec(sens, outliers="drop_influential")
    assert spec_inputs(binary_plan, spec.id) == ["reports/sensitivity/influence.json"]
    res = run_specification(binary_small, spec_slice(binary_plan, spec.id), infl)
    assert res["status"] == "ok"
    kept = binary_small[~binary_small["school"].astype(str).isin(infl["flagged"])]
    assert res["nclusters"] == kept["school"].nunique() and res["nobs"] == len(kept)
