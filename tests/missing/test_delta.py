"""Delta adjustment (MNAR) and the tipping point; missing-data figures render."""

import numpy as np
import pandas as pd
import pytest

from mlmpipe.errors import PlanError
from mlmpipe.missing.delta import delta_adjust, delta_analysis, tipping_point
from mlmpipe.missing.figures import pattern_figure, tipping_figure, trace_figure
from mlmpipe.missing.mi_chained import ImputationSpec, impute_multilevel


def test_delta_adjust_shifts_only_imputed_outcomes():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0], "imputed_y": [False, True, False]})
    out = delta_adjust(df, "y", -0.5, 2.0)
    assert out["y"].tolist() == [1.0, 1.0, 3.0]
    assert df["y"].tolist() == [1.0, 2.0, 3.0]  # input untouched


def test_tipping_point_interpolates_on_log_p():
    rows = [
        {"delta": -1.0, "p": 0.5},
        {"delta": -0.5, "p": 0.01},
        {"delta": 0.0, "p": 0.001},
        {"delta": 0.5, "p": 0.01},
        {"delta": 1.0, "p": 0.1},
    ]
    tp = tipping_point(rows, 0.05)
    assert tp["significant_under_mar"] is True
    x = 0.5 + (np.log(0.05) - np.log(0.01)) / (np.log(0.1) - np.log(0.01)) * 0.5
    assert tp["positive"] == pytest.approx(x)
    assert -1.0 < tp["negative"] < -0.5
    assert tipping_point(rows[2:4], 0.05)["positive"] is None


@pytest.fixture(scope="module")
def imputed():
    rng = np.random.default_rng(9)
    g = np.repeat(np.arange(25), 8)
    x = rng.normal(size=200)
    y = 0.3 * x + rng.normal(size=25)[g] + rng.normal(size=200)
    y[rng.random(200) < 0.3] = np.nan
    df = pd.DataFrame({"cl": g, "y": y, "x": x})
    spec = ImputationSpec(
        outcome="y",
        cluster="cl",
        level1={"y": ("continuous", None), "x": ("continuous", None)},
        level2={},
        m=3,
        iterations=4,
        seed=2,
    )
    return impute_multilevel(df, spec)


def test_delta_analysis_moves_the_intercept_not_much_the_slope(imputed):
    sets, info = imputed
    res = delta_analysis(sets, "y", "y ~ x + (1 | cl)", "(Intercept)", [-1.0, 1.0])
    by = {r["delta"]: r for r in res["rows"]}
    assert set(by) == {-1.0, 0.0, 1.0}
    # shifting 30% of the outcomes by 1 SD moves the intercept by about 0.3 SD
    moved = by[1.0]["estimate"] - by[0.0]["estimate"]
    assert moved == pytest.approx(0.3 * res["sd_observed"], rel=0.35)
    assert by[-1.0]["estimate"] < by[0.0]["estimate"] < by[1.0]["estimate"]
    with pytest.raises(PlanError, match="missing.delta.term: 'z'"):
        delta_analysis(sets[:2], "y", "y ~ x + (1 | cl)", "z", [])
    for fig in (tipping_figure(res), trace_figure(info)):
        assert len(fig.axes) >= 1


def test_pattern_figure():
    rep = {
        "variables_order": ["y", "x"],
        "patterns": [{"pattern": "..", "rows": 5}, {"pattern": "M.", "rows": 2}],
    }
    assert len(pattern_figure(rep).axes) == 2
