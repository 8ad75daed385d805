import copy
from pathlib import Path

import pytest
import yaml

from mlmpipe.plan import Plan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def example_config() -> dict:
    return yaml.safe_load((ROOT / "config/analysis.yaml").read_text())


@pytest.fixture
def config(example_config) -> dict:
    return copy.deepcopy(example_config)


@pytest.fixture(scope="session")
def example_plan(example_config) -> Plan:
    return Plan.from_config(copy.deepcopy(example_config))


@pytest.fixture(scope="session")
def hsb():
    from mlmpipe.data.example import load_example

    return load_example("hsb")


@pytest.fixture(scope="session")
def hsb_small(hsb):
    """40 of the 160 schools (20 public, 20 Catholic): fast fits for the specification tests."""
    schools = hsb.drop_duplicates("school")
    keep = set(schools[schools["sector"] == "Public"]["school"].head(20)) | set(
        schools[schools["sector"] == "Catholic"]["school"].head(20)
    )
    return hsb[hsb["school"].isin(keep)].reset_index(drop=True)


def find_spec(sens, **choices):
    """The specification of ``sens`` with these choices (others: the primary's options)."""
    want = {**sens.primary.choices, **{k.replace("__", "."): v for k, v in choices.items()}}
    for s in sens.specifications:
        if all(s.choices.get(k) == v for k, v in want.items() if s.choices.get(k) != "-"):
            if s.choices["method"] == want["method"]:
                return s
    raise LookupError(choices)
