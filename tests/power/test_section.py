"""The typed power: section: defaults from the plan, raw effects, and one-line errors naming
the key for bad input (issue 17, item 7)."""

import math

import pytest

from mlmpipe.errors import PlanError
from mlmpipe.power.section import load_power


def test_example_plan_section_takes_alpha_seed_and_df_method_from_the_plan(write_plan):
    plan, sec = load_power(write_plan())
    assert sec.design == "cra2" and sec.term == "sector"
    assert sec.alpha == plan.alpha and sec.seed == plan.seed
    assert sec.test == plan.estimation.df_method == "satterthwaite"
    assert sec.params.rho2 == 0.18 and sec.effect == 0.4
    assert len(sec.cells()) == 18 and sum(sec.batch_sizes()) == sec.replications


def test_raw_effects_are_standardised(write_plan):
    raw = {"coefficient": 1.5, "residual": 36.0, "level2": 8.0, "slope2": 2.0}
    _, sec = load_power(write_plan(effect=None, icc=None, raw=raw, design="bira2"))
    assert sec.effect == pytest.approx(1.5 / math.sqrt(44.0))
    assert sec.params.rho2 == pytest.approx(8 / 44) and sec.params.omega2 == pytest.approx(0.25)


def test_batches_split_the_replications(write_plan):
    _, sec = load_power(write_plan(replications=10, batches=4))
    assert sec.batch_sizes() == [3, 3, 2, 2]
    _, sec = load_power(write_plan(replications=2, batches=4))
    assert sec.batch_sizes() == [1, 1]


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"term": "treatment"},
            r"^power\.term: 'treatment' is not a fixed term of the final model m4_cross",
        ),
        ({"icc": {"level2": 1.0}}, r"^power\.icc\.level2: "),
        ({"icc": {"level2": -0.1}}, r"^power\.icc\.level2: "),
        (
            {"grid": {"clusters": [1, 20], "cluster_size": [20]}},
            r"^power\.grid\.clusters\[0\]: 1 is less than the minimum of 2",
        ),
        ({"replications": 0}, r"^power\.replications: 0 is less than the minimum of 1"),
        ({"raw": {"coefficient": 1, "residual": 1, "level2": 1}}, r"^power: give exactly one of"),
        ({"design": "bira2f"}, r"^power\.simulate: design 'bira2f' has closed forms only"),
        ({"test": "bootstrap"}, r"^power\.test: 'bootstrap' is not allowed"),
    ],
)
def test_bad_input_stops_with_one_line_naming_the_key(write_plan, change, message):
    with pytest.raises(PlanError, match=message) as err:
        load_power(write_plan(**change))
    assert "\n" not in str(err.value)


def test_a_plan_without_power_section_is_refused(tmp_path):
    from tests.power.conftest import EXAMPLE

    text = EXAMPLE.read_text().split("\npower:")[0]
    p = tmp_path / "plan.yaml"
    p.write_text(text)
    with pytest.raises(PlanError, match="has no 'power:' section"):
        load_power(p)


def test_pilot_fit_gives_the_truth(write_plan, tmp_path):
    # a pilot: 30 schools of 15, fitted by the engine and saved as the pipeline's FitRecord
    import numpy as np
    import pandas as pd

    from mlmpipe import fit
    from mlmpipe.record.capture import record_from_result

    rng = np.random.default_rng(4)
    school = np.repeat(np.arange(30), 15)
    sector = (school % 2).astype(float)
    y = 12 + 2.0 * sector + 2.5 * rng.standard_normal(30)[school] + 6 * rng.standard_normal(450)
    data = pd.DataFrame({"mAch": y, "sector": sector, "school": school.astype(str)})
    res = fit("mAch ~ sector + (1 | school)", data)
    path, _ = record_from_result(res).save(tmp_path / "pilot.json")
    _, sec = load_power(write_plan(effect=None, icc=None, pilot={"fit": str(path)}))
    tau = float(res.covariance_matrices()["school"][0, 0])
    total = tau + res.sigma**2
    assert sec.effect == pytest.approx(res.fixef["sector"] / math.sqrt(total))
    assert sec.params.rho2 == pytest.approx(tau / total)
    with pytest.raises(PlanError, match=r"^power\.term: 'sector' is not a fixed term of the pilot"):
        res0 = fit("mAch ~ 1 + (1 | school)", data)
        p0, _ = record_from_result(res0).save(tmp_path / "pilot0.json")
        load_power(write_plan(effect=None, pilot={"fit": str(p0)}))
    with pytest.raises(PlanError, match=r"^power: give exactly one of"):
        load_power(write_plan(pilot={"fit": str(path)}))
