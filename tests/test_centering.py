import numpy as np
import pandas as pd
import pytest

from mlmpipe.centering import CenteringState, apply_centering, fit_centering
from mlmpipe.errors import DataValidationError

SPEC = {
    "names": {"centered_name": "c{name}", "cluster_mean_name": "mean{name}"},
    "levels": [
        {"name": "student", "id": None, "predictors": {"x": "group", "z": "grand", "k": "none"}},
        {"name": "school", "id": "school", "predictors": {"w": "grand"}},
    ],
}


@pytest.fixture
def df():
    rng = np.random.default_rng(1)
    school = np.repeat(np.arange(6), [3, 5, 2, 7, 4, 9])
    w = rng.normal(size=6)[school]
    return pd.DataFrame(
        {
            "school": school,
            "x": rng.normal(2, 1, school.size) + school,
            "z": rng.normal(5, 2, school.size),
            "k": 1.0,
            "w": w,
        }
    )


def test_group_centred_mean_zero_within_cluster_and_contextual_mean(df):
    out = apply_centering(df, fit_centering(df, SPEC))
    within = out.groupby("school")["cx"].mean()
    assert np.allclose(within, 0, atol=1e-12)
    assert np.allclose(out["meanx"], df.groupby("school")["x"].transform("mean"))
    assert np.allclose(out["cx"] + out["meanx"], df["x"])


def test_grand_centred_mean_zero_overall_at_its_level(df):
    out = apply_centering(df, fit_centering(df, SPEC))
    assert abs(out["cz"].mean()) < 1e-12
    # school variable: zero mean over schools (one value each), not over students
    assert abs(out.drop_duplicates("school")["cw"].mean()) < 1e-12
    assert "ck" not in out and "k" in out and "x" in out  # raw columns kept


def test_state_is_stored_and_reapplied(df):
    state = fit_centering(df, SPEC)
    again = CenteringState.from_dict(state.to_dict())
    new = df.iloc[::2].copy()  # other data from the same clusters: stored means are reused
    out = apply_centering(new, again)
    means = df.groupby("school")["x"].mean()
    assert np.allclose(out["meanx"], new["school"].map(means))
    assert np.isclose(out["cz"].iloc[0], new["z"].iloc[0] - df["z"].mean())


def test_unknown_cluster_and_name_clash(df):
    state = fit_centering(df, SPEC)
    with pytest.raises(DataValidationError, match="cluster"):
        apply_centering(df.assign(school=df["school"] + 100), state)
    with pytest.raises(DataValidationError, match="'cx'.*already exists"):
        apply_centering(df.assign(cx=1.0), state)
