"""The ladder's bayes_modal rung on a real boundary case: the first 10 HSB schools (the blme
fixture's boundary case), whose REML random-slope fit is singular with and without correlation.
Listed before ``uncorrelated``, the rung keeps the full structure as the posterior mode under
blme's prior; the decision log, the Method sentence and the preregistration text name it."""

import warnings

import pytest

import mlmpipe
from mlmpipe.data.example import load_example
from mlmpipe.ladder import decision_log, fit_with_ladder
from mlmpipe.prereg.priors import estimation_method_lines, rung_prior_text
from mlmpipe.record.capture import record_from_result
from mlmpipe.report.method import convergence_sentence

HSB10 = [8367, 8854, 4458, 5762, 6990, 5815, 7172, 4868, 7341, 1358]
F = "mAch ~ ses + (ses | school)"
RUNGS = ["rescale", "restart", "optimizer", "bayes_modal", "uncorrelated", "drop_smallest_variance"]


@pytest.fixture(scope="module")
def hsb10():
    d = load_example("hsb")
    return d[d.school.isin(HSB10)].reset_index(drop=True)


def test_singular_fit_ends_at_bayes_modal_with_its_structure(hsb10):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lad = fit_with_ladder(F, hsb10, convergence={"rungs": RUNGS})
        direct = mlmpipe.fit(F, hsb10, prior="blme").to_dict()
    assert [(d["rung"], d["outcome"]) for d in lad.decisions] == [
        ("as planned", "singular"),
        ("rescale", "singular"),
        ("restart", "singular"),
        ("optimizer", "singular"),
        ("bayes_modal", "ok"),
    ]
    assert lad.rung == "bayes_modal" and lad.formula == F and lad.decisions[-1]["prior"] == "blme"
    got = lad.result.to_dict()
    assert not got["singular"] and got["deviance"] == pytest.approx(direct["deviance"], abs=1e-8)
    rec = record_from_result(lad.result, model="m2", estimator="reml", ladder=lad.to_dict())
    log = decision_log({"reports/fits/m2/reml/imp0.json": rec})
    assert log["summary"] == {"bayes_modal": 1}
    s = convergence_sentence(log)
    assert "bayes_modal (1)" in s and "Bayesian modal fits" in s and "prior blme" in s


def test_rung_is_skipped_when_fits_are_already_bayes_modal(hsb10):
    lad = fit_with_ladder(
        F, hsb10, convergence={"rungs": ["bayes_modal"]}, fit_kwargs={"prior": "blme"}
    )
    assert lad.rung == "as planned" and lad.resolved  # the planned fit has the prior: not singular


def test_bad_rung_prior_is_one_line_naming_the_key():
    with pytest.raises(mlmpipe.errors.PlanError, match="estimation.prior"):
        fit_with_ladder(F, load_example("hsb").head(50), convergence={"prior": {"type": "nope"}})


def test_prereg_text_states_the_prior():
    assert "Wishart" in rung_prior_text(None)
    lines = estimation_method_lines({"method": "bayes_modal", "prior": "invwishart"})
    assert "Bayesian modal" in lines[0] and "invwishart" in lines[1]
    assert estimation_method_lines({}) == []
