"""A three-level SPSS file (students in classes in schools) with blank answers and a -99 code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat


def write_three_level_sav(path: Path, seed: int = 7) -> pd.DataFrame:
    """12 schools x 3 classes x 8 students; ``sex`` has 2 blank answers, ``ses`` 3 codes -99;
    ``sector`` (value labels) is constant within schools, ``class_size`` within classes."""
    rng = np.random.default_rng(seed)
    n_school, n_class, n_stu = 12, 3, 8
    school = np.repeat(np.arange(1, n_school + 1), n_class * n_stu)
    class_id = np.repeat(np.arange(101, 101 + n_school * n_class), n_stu)
    n = school.size
    sector = np.repeat(rng.integers(1, 3, n_school), n_class * n_stu).astype(float)
    class_size = np.repeat(rng.integers(15, 31, n_school * n_class), n_stu).astype(float)
    ses = np.round(rng.normal(size=n), 3)
    u_s = rng.normal(scale=0.6, size=n_school)[school - 1]
    u_c = rng.normal(scale=0.4, size=n_school * n_class)[class_id - 101]
    score = np.round(50 + 3 * ses + 2 * (sector == 2) + u_s + u_c + rng.normal(size=n), 2)
    ses[[3, 40, 100]] = -99.0
    sex = rng.choice(["f", "m"], size=n).astype(object)
    sex[[5, 77]] = ""
    df = pd.DataFrame(
        {
            "student_id": np.arange(1, n + 1).astype(float),
            "class_id": class_id.astype(float),
            "school": school.astype(float),
            "score": score,
            "ses": ses,
            "sex": sex,
            "sector": sector,
            "class_size": class_size,
        }
    )
    pyreadstat.write_sav(
        df, str(path), variable_value_labels={"sector": {1.0: "public", 2.0: "private"}}
    )
    return df
