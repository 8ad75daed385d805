"""estimation.df_method: the plan chooses Satterthwaite or Kenward-Roger df for the REML fits."""

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlmpipe.errors import PlanError
from mlmpipe.plan import Plan
from mlmpipe.steps.models import fit_step
from tests.records import document

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cfg():
    return yaml.safe_load((ROOT / "config" / "analysis.yaml").read_text())


def test_satterthwaite_default_leaves_the_fit_slices_unchanged(cfg):
    del cfg["estimation"]["df_method"]
    plain = Plan.from_config(copy.deepcopy(cfg))
    cfg["estimation"]["df_method"] = "satterthwaite"
    explicit = Plan.from_config(cfg)
    for m in plain.model_names:
        for est in ("reml", "ml"):
            assert plain.slice_fit(m, est) == explicit.slice_fit(m, est)
            assert "df_method" not in json.loads(plain.slice_fit(m, est))


def test_kenward_roger_goes_to_the_reml_fits_only(cfg):
    cfg["estimation"]["df_method"] = "kenward_roger"
    plan = Plan.from_config(cfg)
    last = plan.model_names[-1]
    assert json.loads(plan.slice_fit(last, "reml"))["df_method"] == "kenward_roger"
    assert "df_method" not in json.loads(plan.slice_fit(last, "ml"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"df_method": "kr"},
            "estimation.df_method: 'kr' is not allowed; allowed values: satterthwaite, "
            "kenward_roger",
        ),
        (
            {"df_method": "kenward_roger", "backend": "statsmodels"},
            "estimation.df_method: kenward_roger needs backend 'mlmpipe'",
        ),
    ],
)
def test_bad_df_method_is_a_one_line_plan_error(cfg, edit, message):
    cfg["estimation"].update(edit)
    with pytest.raises(PlanError) as err:
        Plan.from_config(cfg)
    assert str(err.value) == message


def test_fit_step_uses_the_planned_df_method():
    """The fit step of a Kenward-Roger slice stores KR SEs and df and says so in the artifact."""
    case = json.loads((ROOT / "tests/fixtures/kr/kr_fits.json").read_text())["cases"]
    case = case["sleepstudy_few"]
    df = pd.DataFrame(case["data"])
    spec = {"model": "m1", "formula": case["formula"], "estimator": "reml", "backend": "mlmpipe"}
    sat, kr = (document(fit_step(df, s)[0]) for s in (spec, {**spec, "df_method": "kenward_roger"}))
    assert kr["df_method"] == "kenward_roger" and sat["df_method"] == "satterthwaite"
    se = [r["se"] for r in kr["fixed"]]
    np.testing.assert_allclose(se, case["summary"]["se"], rtol=1e-4)
    np.testing.assert_allclose([r["df"] for r in kr["fixed"]], case["summary"]["df"], rtol=1e-4)
    assert all(k > s for k, s in zip(se, [r["se"] for r in sat["fixed"]], strict=True))


def test_model_table_note_names_the_df_method():
    """The APA model-sequence table says which df its p-values used."""
    import mlmpipe
    from mlmpipe.record.capture import record_from_result
    from mlmpipe.report.apa import model_sequence_table

    case = json.loads((ROOT / "tests/fixtures/kr/kr_fits.json").read_text())["cases"]
    df = pd.DataFrame(case["sleepstudy_rs"]["data"])
    models = [{"name": "m1", "label": "random slope"}]
    for method, words in [("satterthwaite", "Satterthwaite df"), ("kenward_roger", "Kenward")]:
        fit = record_from_result(
            mlmpipe.fit(case["sleepstudy_rs"]["formula"], df, df_method=method)
        )
        table = model_sequence_table(models, {("m1", "reml"): fit})
        assert words in table.note
