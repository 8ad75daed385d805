"""Cumulative-link mixed models vs ``ordinal::clmm`` on the wine data (``?clmm``'s model).

Fixture: ``tests/fixtures/glmm/ordinal_fits.json`` from ``make_ordinal_fixture.R``. Estimates,
thresholds, the judge variance and logLik agree to 1e-3 relative (1e-4 on logLik). SEs are compared
at 1e-2: clmm takes them from ``deriv12`` (plain central differences, step 1e-4) of its Laplace
likelihood, whose inner mode search stops at its own tolerance; ours come from a deterministic
deviance (PIRLS to |du| < 1e-11) with SE-scaled steps and agree with a Richardson-extrapolated
Hessian to 1e-6, and differ from clmm's by up to 0.8% (fixed effects) and 1.1% (thresholds, through
the delta method from the ordered parametrization).
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import pytest

from tests.reference.datasets import load_raw, to_r_factors

pytestmark = pytest.mark.reference

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "glmm" / "ordinal_fits.json"
FIX = json.loads(FIXTURE.read_text(encoding="utf-8"))
CASES = {c["id"]: c for c in FIX["cases"]}


@cache
def fitted(case_id: str):
    import mlmpipe

    case = CASES[case_id]
    levels = dict(FIX["factor_levels"][case["dataset"]])
    levels.pop("rating")  # the response stays numeric: categories are its sorted values
    df = to_r_factors(load_raw(case["dataset"]), levels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlmpipe.fit(
            "rating ~ temp + contact + (1 | judge)", df, family="ordinal", link=case["link"]
        )


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_clmm_parity(case_id: str) -> None:
    case = CASES[case_id]
    res = fitted(case_id)
    fx = res.fixed_table().set_index("term")
    for row in case["fixed"]:
        assert fx.loc[row["term"], "estimate"] == pytest.approx(row["estimate"], rel=1e-3)
        assert fx.loc[row["term"], "se"] == pytest.approx(row["se"], rel=1e-2)
    ours = res.thresholds()
    assert [t["term"] for t in ours] == [r["term"] for r in case["thresholds"]]
    for mine, ref in zip(ours, case["thresholds"], strict=True):
        assert mine["estimate"] == pytest.approx(ref["estimate"], rel=1e-3)
        assert mine["se"] == pytest.approx(ref["se"], rel=2e-2)
    vc = res.varcorr()
    assert float(vc["vcov"].iloc[0]) == pytest.approx(case["random"][0]["vcov"], rel=1e-3)
    assert res.loglik == pytest.approx(case["loglik"], rel=1e-4)
    assert res.nobs == case["nobs"]
