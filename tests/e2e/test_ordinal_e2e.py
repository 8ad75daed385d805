"""The ordinal example plan (config/examples/chem97_ordinal.yaml) through the whole DAG:
cumulative-logit mixed models of Chem97 (LEAs 1-20), latent-scale ICC and R^2, LRTs and the report
with threshold and cumulative-odds-ratio tables. Model m1 is the ``ordinal::clmm`` fixture
``chem97_lea20_school_logit``; effect sizes are checked against R (ordinal_effects.json).
Slow (~3-8 min on a loaded 2-core machine)."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.project import run_plan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _clmm_case(case_id: str) -> dict:
    fix = json.loads((FIXTURES / "glmm/ordinal_fits.json").read_text())
    return next(c for c in fix["cases"] if c["id"] == case_id)


@pytest.mark.slow
@pytest.mark.e2e
def test_ordinal_example_plan_runs_end_to_end(tmp_path):
    run_plan(tmp_path, "config/examples/chem97_ordinal.yaml")
    reports = tmp_path / "reports"
    assert (reports / "report.html").stat().st_size > 10_000
    # m1 is clmm's score ~ gcsecnt + (1 | school) on the same 2,100 students
    fit = json.loads((reports / "fits/m1_gcse/ml/imp0.json").read_text())
    ref = _clmm_case("chem97_lea20_school_logit")
    assert fit["family"] == "ordinal" and fit["link"] == "logit" and fit["nobs"] == ref["nobs"]
    assert fit["loglik"] == pytest.approx(ref["loglik"], abs=1e-4)
    for ours, theirs in zip(fit["thresholds"], ref["thresholds"], strict=True):
        assert ours["term"] == theirs["term"]
        assert ours["estimate"] == pytest.approx(theirs["estimate"], rel=1e-3)
        assert ours["se"] == pytest.approx(theirs["se"], rel=1e-3)
    (beta,) = fit["fixed"]
    assert beta["term"] == "gcsecnt"
    assert beta["estimate"] == pytest.approx(ref["fixed"][0]["estimate"], rel=1e-3)
    assert beta["se"] == pytest.approx(ref["fixed"][0]["se"], rel=1e-3)
    assert beta["exp_estimate"] == pytest.approx(np.exp(beta["estimate"]))
    assert fit["random"][0]["vcov"] == pytest.approx(ref["random"][0]["vcov"], rel=1e-3)
    assert fit["aic"] == pytest.approx(ref["AIC"], abs=2e-4)  # 5 thresholds + beta + variance
    # comparison: LRTs on the ML fits, df counting the added betas only
    comp = json.loads((reports / "comparison.json").read_text())
    rows = {r["model"]: r for r in comp["models"]}
    assert rows["m0_null"]["ml"]["npar"] == 6
    assert rows["m2_context"]["test"]["df"] == 2 and rows["m2_context"]["prv"] == {}
    # effect sizes on the latent scale agree with R's (computed from clmm's estimates)
    es = json.loads((reports / "effects.json").read_text())
    r_es = json.loads((FIXTURES / "ordinal_effects/ordinal_effects.json").read_text())["models"]
    for name in ("m0_null", "m1_gcse", "m2_context"):
        nk = es["models"][name]["nakagawa"]
        for key in ("r2_marginal", "r2_conditional", "icc_adjusted"):
            assert nk[key] == pytest.approx(r_es[name][key], rel=1e-3, abs=1e-9), (name, key)
    assert es["models"]["m0_null"]["icc"]["school"] == pytest.approx(
        r_es["m0_null"]["icc_adjusted"], rel=1e-3
    )
    assert "snijders_bosker" not in es["models"]["m2_context"]
    html = (reports / "report.html").read_text()
    for text in (
        "Ordinal outcome (logit link)",
        "thresholds",
        "cumulative odds ratio",
        "P(Y &lt;= j) = F(alpha_j - x'beta - b)",
        "latent scale",
        "not computed: Snijders",
        "Predicted category probabilities of m2_context",
        "As cumulative odds ratios",
    ):
        assert text in html, text
