"""Membership checks: one-line errors naming the plan key and rows; the long table made wide."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmpipe.data.membership_checks import check_wide_membership, long_to_wide
from mlmpipe.data.mobility import membership_long, simulate_mobility
from mlmpipe.errors import DataValidationError

WIDE = {"name": "school", "columns": ["school1", "school2", "school3"],
        "weights": ["days1", "days2", "days3"]}  # fmt: skip
LONG = {"name": "school", "table": "m.csv", "unit": "student", "cluster": "school_id",
        "weight": "days"}  # fmt: skip


@pytest.fixture(scope="module")
def wide() -> pd.DataFrame:
    return simulate_mobility(n_students=300, n_schools=12, seed=5)


def test_wide_summary(wide):
    s = check_wide_membership(wide, WIDE)
    movers = int((wide[WIDE["columns"]].notna().sum(axis=1) > 1).sum())
    assert s == {"units": 300, "clusters": 12, "movers": movers} and movers > 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.assign(days1=d["days1"].mask(d.index == 4, -3.0)),
         r"^membership\.weights: negative membership weight in data rows 5$"),
        (lambda d: d.assign(days1=d["days1"].mask(d.index == 2)),
         r"^membership\.weights: missing membership weight in data rows 3$"),
        (lambda d: d.assign(school1=d["school1"].mask(d.index == 7)),
         r"^membership\.weights: a positive weight without a cluster ID in data rows 8$"),
    ],
)  # fmt: skip
def test_wide_bad_weights_name_rows(wide, edit, message):
    with pytest.raises(DataValidationError, match=message):
        check_wide_membership(edit(wide), WIDE)


def test_wide_unit_without_membership(wide):
    d = wide.copy()
    for c in WIDE["columns"] + WIDE["weights"]:
        d.loc[9, c] = np.nan if c.startswith("days") else pd.NA
    with pytest.raises(DataValidationError, match=r"units with no membership .* data rows 10$"):
        check_wide_membership(d, WIDE)


def test_long_table_round_trips_to_the_wide_slots(wide):
    table = membership_long(wide)
    out, s = long_to_wide(table, LONG, wide["student"])
    assert list(out.columns) == [f"school_mm{k}" for k in (1, 2, 3)] + [
        f"school_mmw{k}" for k in (1, 2, 3)
    ]
    assert s["units"] == 300 and s["clusters"] == 12
    # per student the same memberships and total days as the wide data
    got = out.loc[wide["student"], ["school_mmw1", "school_mmw2", "school_mmw3"]].sum(axis=1)
    np.testing.assert_allclose(got.to_numpy(), wide[WIDE["weights"]].sum(axis=1).to_numpy())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.assign(days=t["days"].mask(t.index == 3, -1.0)),
         r"^membership\.weight: negative membership weight in table rows 4$"),
        (lambda t: t.assign(school_id=t["school_id"].mask(t.index == 5)),
         r"^membership\.table: missing unit or cluster ID in table rows 6$"),
        (lambda t: pd.concat([t, pd.DataFrame({"student": [9999], "school_id": [1],
                                               "days": [3.0]})], ignore_index=True),
         r"^membership\.unit: units unknown to the data in table rows \d+ \(e\.g\. 9999\)$"),
        (lambda t: t[t["student"] != 17],
         r"^membership\.table: units with no membership: 17 \(data rows 17\)$"),
        (lambda t: t.rename(columns={"days": "d"}),
         r"^membership\.weight: column 'days' is not in the membership table"),
    ],
)  # fmt: skip
def test_long_table_errors_name_rows(wide, edit, message):
    table = edit(membership_long(wide)).reset_index(drop=True)
    with pytest.raises(DataValidationError, match=message):
        long_to_wide(table, LONG, wide["student"])


def test_long_table_zero_sum_and_unknown_cluster(wide):
    table = membership_long(wide)
    mover = table["student"].value_counts().idxmax()  # a student with 2+ schools
    rows = table.index[table["student"] == mover]
    one_zero = table.assign(days=table["days"].mask(table.index == rows[0], 0.0))
    assert long_to_wide(one_zero, LONG, wide["student"])[1]["units"] == 300  # others positive
    zero = table.assign(days=table["days"].mask(table.index.isin(rows), 0.0))
    shown = ", ".join(str(r + 1) for r in rows)
    with pytest.raises(DataValidationError, match=rf"sum to 0 in table rows {shown} \(units"):
        long_to_wide(zero, LONG, wide["student"])
    with pytest.raises(DataValidationError, match=r"^membership\.cluster: clusters unknown"):
        long_to_wide(table, LONG, wide["student"], known_clusters=range(1, 12))
    with pytest.raises(DataValidationError, match=r"^membership\.slots: units with more than 2"):
        long_to_wide(table, {**LONG, "slots": 2}, wide["student"])
