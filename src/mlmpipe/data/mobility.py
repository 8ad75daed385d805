"""A seeded simulated mobility data set for multiple-membership models (issue 14).

Students in schools, a quarter of whom moved during the year and attended two or three schools
for parts of it; ``days`` in each school are the membership weights. The outcome follows the
multiple-membership model (Hill & Goldstein 1998; Browne, Goldstein & Rasbash 2001)

    y_i = b0 + b1 x_i + sum_k w_ik u_{s(i,k)} + e_i,   w_ik = days_ik / sum_k days_ik,

with ``u_s ~ N(0, sigma_u^2)`` and ``e_i ~ N(0, sigma_e^2)``; ``pass_`` is a binary outcome from
the same linear predictor through a logit link.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_mobility(
    n_students: int = 3000,
    n_schools: int = 60,
    share_movers: float = 0.25,
    sd_school: float = 0.5,
    sd_resid: float = 1.0,
    seed: int = 2026,
) -> pd.DataFrame:
    """Wide data: ``student, x, y, pass_, school1..3, days1..3`` (empty slots are NaN)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(0, sd_school, n_schools)
    ids = np.full((n_students, 3), np.nan)
    days = np.full((n_students, 3), np.nan)
    ids[:, 0] = np.arange(n_students) % n_schools  # every school has its own students
    days[:, 0] = 180.0
    movers = rng.random(n_students) < share_movers
    for i in np.flatnonzero(movers):
        k = 2 if rng.random() < 0.7 else 3
        others = rng.choice(np.delete(np.arange(n_schools), int(ids[i, 0])), k - 1, replace=False)
        ids[i, 1:k] = others
        cuts = np.sort(rng.integers(20, 160, size=k - 1))
        d = np.diff(np.concatenate([[0], cuts, [180]]))
        days[i, :k] = np.maximum(d, 1)
    w = np.nan_to_num(days) / np.nansum(days, axis=1, keepdims=True)
    school_part = np.sum(w * np.where(np.isnan(ids), 0.0, u[np.nan_to_num(ids).astype(int)]), 1)
    x = rng.normal(size=n_students)
    eta = 0.2 + 0.4 * x + school_part
    y = eta + rng.normal(0, sd_resid, n_students)
    pass_ = (rng.random(n_students) < 1 / (1 + np.exp(-eta))).astype(int)
    out = pd.DataFrame({"student": np.arange(1, n_students + 1), "x": x, "y": y, "pass_": pass_})
    for k in range(3):
        out[f"school{k + 1}"] = pd.array(ids[:, k] + 1, dtype="Int64")
        out[f"days{k + 1}"] = days[:, k]
    return out


def membership_long(wide: pd.DataFrame) -> pd.DataFrame:
    """The long membership table ``student, school_id, days`` of the wide data."""
    parts = [
        wide[["student", f"school{k}", f"days{k}"]].set_axis(
            ["student", "school_id", "days"], axis=1
        )
        for k in (1, 2, 3)
    ]
    return pd.concat(parts).dropna().sort_values(["student", "school_id"]).reset_index(drop=True)
