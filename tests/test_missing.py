import numpy as np
import pandas as pd

from mlmpipe.missing import handle_missing, pool_fits
from tests.records import document, record

LEVELS = [("student", None, ["x"]), ("school", "school", ["w"])]


def test_listwise_report_and_identity_pooling():
    df = pd.DataFrame(
        {
            "school": [1, 1, 2, 2, 3, 3],
            "y": [1.0, np.nan, 2.0, 3.0, 4.0, 5.0],
            "x": [0.1, 0.2, np.nan, 0.4, 0.5, 0.6],
            "w": [1.0, 1.0, 2.0, 2.0, np.nan, np.nan],
        }
    )
    sets, rep = handle_missing(df, {"method": "listwise", "m": 0}, LEVELS, "y")
    assert len(sets) == 1 and len(sets[0]) == 2
    assert rep["rows_lost_listwise"] == 4 and rep["complete_rows"] == 2
    per = {r["variable"]: r for r in rep["per_variable"]}
    assert per["w"]["units"] == 3 and per["w"]["missing"] == 1  # counted per school
    assert rep["per_level"] == [{"level": "school", "clusters": 3, "clusters_after_listwise": 2}]
    assert sum(p["rows"] for p in rep["patterns"]) == 6
    one = record({"model": "a"})
    assert document(pool_fits([one])) == document(one) | {"pooling": {"method": "identity", "m": 1}}
