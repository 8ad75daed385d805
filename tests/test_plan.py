"""Plan validation: schema errors are one line naming the key and the allowed values."""

import copy
from pathlib import Path

import pytest
import yaml

from mlmpipe.errors import PlanError
from mlmpipe.plan import Plan, load_plan, schema_path

ROOT = Path(__file__).resolve().parents[1]
PLAN_FILE = ROOT / "config" / "analysis.yaml"


@pytest.fixture
def cfg():
    return yaml.safe_load(PLAN_FILE.read_text())


def test_example_plan_loads_with_defaults():
    plan = load_plan(PLAN_FILE)
    assert plan.backend == "mlmpipe"
    assert plan.estimators == ("reml", "ml")
    assert plan.checks["duplicate_rows"] == "warn"  # default filled
    assert plan.model("m4_cross").formula == (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses | school)"
    )


def test_packaged_schema_is_the_config_schema():
    assert schema_path().read_text() == (ROOT / "config/schema/analysis.schema.yaml").read_text()


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda c: c["levels"][0]["predictors"]["ses"].update(centering="groop"),
            "levels[0].predictors.ses.centering: 'groop' is not allowed; allowed values: none, grand, group",
        ),
        (
            lambda c: c["estimation"].update(backend="lme4"),
            "estimation.backend: 'lme4' is not allowed; allowed values: mlmpipe, statsmodels",
        ),
        (lambda c: c["data"].pop("file"), "data: missing required key 'file'"),
        (lambda c: c["report"].update(engine="pdf"), "report.engine: 'pdf' is not allowed"),
        (lambda c: c.update(alpha="x"), "alpha: expected number"),
        (
            lambda c: c["estimation"].update(backnd="x"),
            "estimation: unknown key(s) 'backnd'; allowed keys: backend",
        ),
        (
            lambda c: c["models"][1].update(add_fixed=["nosuch"]),
            "models[1].add_fixed: unknown variable 'nosuch'",
        ),
        (
            lambda c: c["models"][3].update(add_random={"student": ["cses"]}),
            "models[3].add_random: 'student' is not a clustering level",
        ),
        (
            lambda c: c["levels"][1].update(id=None),
            "levels[1].id: level 'school' needs an ID column",
        ),
        (
            lambda c: c["levels"][1]["predictors"]["sector"].update(centering="grand"),
            "levels[1].predictors.sector.centering: only continuous predictors can be centred",
        ),
    ],
)
def test_invalid_plan_one_line_error(cfg, edit, expected):
    bad = copy.deepcopy(cfg)
    edit(bad)
    with pytest.raises(PlanError) as err:
        Plan.from_config(bad)
    msg = str(err.value)
    assert expected in msg
    assert "\n" not in msg


def test_slices_isolate_centering(cfg):
    """Changing a centering decision changes the center slice only (not validate/missing)."""
    a = Plan.from_config(cfg)
    c2 = copy.deepcopy(cfg)
    c2["levels"][1]["predictors"]["disclim"]["centering"] = "none"
    b = Plan.from_config(c2)
    assert a.slice_validate() == b.slice_validate()
    assert a.slice_missing() == b.slice_missing()
    assert a.slice_center() != b.slice_center()
    assert a.slice_fit("m4_cross", "reml") == b.slice_fit("m4_cross", "reml")
