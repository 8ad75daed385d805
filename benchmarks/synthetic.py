"""Seeded synthetic three-level data set for the performance benchmark (issue 3, item 7).

Students nested in classes nested in schools. Class IDs are unique across schools, so
``(1 | class)`` denotes the nested class effect without writing ``school:class``.

The generating model is the one the benchmark fits::

    y ~ x + w + (1 | class) + (1 + x | school)

with a level-1 covariate ``x`` (student) and a level-3 covariate ``w`` (school).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEED = 20240607

#: True parameters of the generating model (documented so the fit can be checked by eye).
TRUTH = {
    "beta": {"(Intercept)": 10.0, "x": 0.5, "w": 0.8},
    "sd_school": (1.0, 0.3),  # intercept, slope of x
    "cor_school": 0.3,
    "sd_class": 0.5,
    "sd_residual": 2.0,
}


def make_synthetic(
    n_schools: int = 1600,
    classes_per_school: int = 5,
    students_per_class: int = 50,
    seed: int = SEED,
) -> pd.DataFrame:
    """Return a DataFrame with columns ``y, x, w, class, school`` (one row per student).

    The defaults give 400,000 students in 8,000 classes in 1,600 schools.
    """
    rng = np.random.default_rng(seed)
    n_classes = n_schools * classes_per_school
    n = n_classes * students_per_class

    school_of_class = np.repeat(np.arange(n_schools), classes_per_school)
    klass = np.repeat(np.arange(n_classes), students_per_class)
    school = school_of_class[klass]

    w = rng.standard_normal(n_schools)
    sd0, sd1 = TRUTH["sd_school"]
    rho = TRUTH["cor_school"]
    cov = np.array([[sd0**2, rho * sd0 * sd1], [rho * sd0 * sd1, sd1**2]])
    u = rng.multivariate_normal(np.zeros(2), cov, size=n_schools)
    v = rng.normal(0.0, TRUTH["sd_class"], size=n_classes)

    x = rng.standard_normal(n)
    e = rng.normal(0.0, TRUTH["sd_residual"], size=n)
    b = TRUTH["beta"]
    y = (
        b["(Intercept)"]
        + b["x"] * x
        + b["w"] * w[school]
        + u[school, 0]
        + u[school, 1] * x
        + v[klass]
        + e
    )
    return pd.DataFrame(
        {
            "y": y,
            "x": x,
            "w": w[school],
            "class": klass.astype(np.int64),
            "school": school.astype(np.int64),
        }
    )


if __name__ == "__main__":
    df = make_synthetic()
    print(df.shape, df["class"].nunique(), df["school"].nunique())
    print(df.head())
