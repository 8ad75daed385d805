"""Formula edits (mlmpipe.formula.edit) and rendering (mlmpipe.formula.render).

The literal tables are the outputs of the text surgery these operations replace (the former
``mlmpipe.ladder.uncorrelated``/``drop_effect`` and the former ``sensitivity.specification.formula``, run once
on the test formulas and on every model of config/analysis.yaml and config/examples/*.yaml):
the operations must give the same strings, since they go into fit artifacts and are parsed again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlmpipe.errors import FormulaError
from mlmpipe.formula import build_design, parse_formula, render
from mlmpipe.formula.edit import (
    add_fixed,
    drop_random_effect,
    formula_from,
    random_intercepts_only,
    uncorrelated,
    without_fixed,
)
from mlmpipe.plan.frozen import FrozenMap
from mlmpipe.plan.sections import ModelSpec
from mlmpipe.plan.sequence import formula_of, with_random

COLUMNS = ["f", "x"]  # the data columns the old drop_effect was given (f: a factor)

UNCORRELATED = [
    ("mAch ~ 1 + (1 | school)", None),
    ("mAch ~ 1 + cses + minrty + sx + (1 | school)", None),
    ("mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)", None),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses | school)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses || school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses | school)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses || school)",
    ),
    ("score ~ 1 + (1 | school)", None),
    ("score ~ 1 + gcsecnt + (1 | school)", None),
    ("score ~ 1 + gcsecnt + gender + meangcsescore + (1 | school)", None),
    ("course ~ 1 + (1 | school)", None),
    ("course ~ 1 + gender + (1 | school)", None),
    ("course ~ 1 + gender + cwritten + meanwritten + (1 | school)", None),
    ("proficient ~ 1 + (1 | school)", None),
    ("proficient ~ 1 + cses + minrty + sx + (1 | school)", None),
    ("proficient ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)", None),
    ("Reaction ~ 1 + (1 | Subject)", None),
    ("Reaction ~ 1 + Days + (1 | Subject)", None),
    ("Reaction ~ 1 + Days + (1 + Days | Subject)", "Reaction ~ 1 + Days + (1 + Days || Subject)"),
    ("y ~ x + (1 + x + z | g) + (1 | h)", "y ~ x + (1 + x + z || g) + (1 | h)"),
    ("y ~ x + (1 | g)", None),
    ("y ~ (1 + f || g)", None),
    (
        "mAch ~ cses + disclim + (1 + disclim | school)",
        "mAch ~ cses + disclim + (1 + disclim || school)",
    ),
    ("mAch ~ cses + disclim + (1 + disclim || school)", None),
    ("y ~ (x | g)", "y ~ (x || g)"),
    ("y ~ 0 + x + (0 + x + z | g)", "y ~ 0 + x + (0 + x + z || g)"),
    ("y ~ x + (1 | g) + (0 + x | g)", None),
    ("Reaction ~ Days + (Days | Subject)", "Reaction ~ Days + (Days || Subject)"),
    ("y ~ x + (1 + x | g/h)", "y ~ x + (1 + x || g/h)"),
    ("y ~ (1 | g) + x", None),
]
DROP = [
    ("mAch ~ 1 + (1 | school)", "school", "(Intercept)", None),
    ("mAch ~ 1 + cses + minrty + sx + (1 | school)", "school", "(Intercept)", None),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)",
        "school",
        "(Intercept)",
        None,
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses | school)",
        "school",
        "(Intercept)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (cses + 0 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses | school)",
        "school",
        "cses",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses || school)",
        "school",
        "(Intercept)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (cses + 0 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses || school)",
        "school.1",
        "(Intercept)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (cses + 0 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses || school)",
        "school",
        "cses",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses || school)",
        "school.1",
        "cses",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses | school)",
        "school",
        "(Intercept)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (cses + 0 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses | school)",
        "school",
        "cses",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses || school)",
        "school",
        "(Intercept)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (cses + 0 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses || school)",
        "school.1",
        "(Intercept)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (cses + 0 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses || school)",
        "school",
        "cses",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 | school)",
    ),
    (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses || school)",
        "school.1",
        "cses",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 | school)",
    ),
    ("score ~ 1 + (1 | school)", "school", "(Intercept)", None),
    ("score ~ 1 + gcsecnt + (1 | school)", "school", "(Intercept)", None),
    ("score ~ 1 + gcsecnt + gender + meangcsescore + (1 | school)", "school", "(Intercept)", None),
    ("course ~ 1 + (1 | school)", "school", "(Intercept)", None),
    ("course ~ 1 + gender + (1 | school)", "school", "(Intercept)", None),
    ("course ~ 1 + gender + cwritten + meanwritten + (1 | school)", "school", "(Intercept)", None),
    ("proficient ~ 1 + (1 | school)", "school", "(Intercept)", None),
    ("proficient ~ 1 + cses + minrty + sx + (1 | school)", "school", "(Intercept)", None),
    (
        "proficient ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)",
        "school",
        "(Intercept)",
        None,
    ),
    ("Reaction ~ 1 + (1 | Subject)", "Subject", "(Intercept)", None),
    ("Reaction ~ 1 + Days + (1 | Subject)", "Subject", "(Intercept)", None),
    (
        "Reaction ~ 1 + Days + (1 + Days | Subject)",
        "Subject",
        "(Intercept)",
        "Reaction ~ 1 + Days + (Days + 0 | Subject)",
    ),
    (
        "Reaction ~ 1 + Days + (1 + Days | Subject)",
        "Subject",
        "Days",
        "Reaction ~ 1 + Days + (1 | Subject)",
    ),
    (
        "Reaction ~ 1 + Days + (1 + Days || Subject)",
        "Subject",
        "(Intercept)",
        "Reaction ~ 1 + Days + (Days + 0 | Subject)",
    ),
    (
        "Reaction ~ 1 + Days + (1 + Days || Subject)",
        "Subject.1",
        "(Intercept)",
        "Reaction ~ 1 + Days + (Days + 0 | Subject)",
    ),
    (
        "Reaction ~ 1 + Days + (1 + Days || Subject)",
        "Subject",
        "Days",
        "Reaction ~ 1 + Days + (1 | Subject)",
    ),
    (
        "Reaction ~ 1 + Days + (1 + Days || Subject)",
        "Subject.1",
        "Days",
        "Reaction ~ 1 + Days + (1 | Subject)",
    ),
    ("y ~ x + (1 + x + z | g) + (1 | h)", "g", "(Intercept)", "y ~ x + (x + z + 0 | g) + (1 | h)"),
    ("y ~ x + (1 + x + z | g) + (1 | h)", "g", "x", "y ~ x + (1 + z | g) + (1 | h)"),
    ("y ~ x + (1 + x + z | g) + (1 | h)", "g", "z", "y ~ x + (1 + x | g) + (1 | h)"),
    ("y ~ x + (1 + x + z | g) + (1 | h)", "h", "(Intercept)", "y ~ x + (1 + x + z | g)"),
    (
        "y ~ x + (1 + x + z || g) + (1 | h)",
        "g",
        "(Intercept)",
        "y ~ x + (x + z + 0 || g) + (1 | h)",
    ),
    (
        "y ~ x + (1 + x + z || g) + (1 | h)",
        "g.1",
        "(Intercept)",
        "y ~ x + (x + z + 0 || g) + (1 | h)",
    ),
    ("y ~ x + (1 + x + z || g) + (1 | h)", "g", "x", "y ~ x + (1 + z || g) + (1 | h)"),
    ("y ~ x + (1 + x + z || g) + (1 | h)", "g.1", "x", "y ~ x + (1 + z || g) + (1 | h)"),
    ("y ~ x + (1 + x + z || g) + (1 | h)", "g", "z", "y ~ x + (1 + x || g) + (1 | h)"),
    ("y ~ x + (1 + x + z || g) + (1 | h)", "g.1", "z", "y ~ x + (1 + x || g) + (1 | h)"),
    ("y ~ x + (1 + x + z || g) + (1 | h)", "h", "(Intercept)", "y ~ x + (1 + x + z || g)"),
    ("y ~ x + (1 + x + z || g) + (1 | h)", "h.1", "(Intercept)", "y ~ x + (1 + x + z || g)"),
    ("y ~ x + (1 | g)", "g", "(Intercept)", None),
    ("y ~ (1 + f || g)", "g", "(Intercept)", "y ~ (f + 0 | g)"),
    ("y ~ (1 + f || g)", "g.1", "(Intercept)", "y ~ (f + 0 | g)"),
    ("y ~ (1 + f || g)", "g", "f", "y ~ (1 | g)"),
    ("y ~ (1 + f || g)", "g.1", "f", "y ~ (1 | g)"),
    (
        "mAch ~ cses + disclim + (1 + disclim | school)",
        "school",
        "(Intercept)",
        "mAch ~ cses + disclim + (disclim + 0 | school)",
    ),
    (
        "mAch ~ cses + disclim + (1 + disclim | school)",
        "school",
        "disclim",
        "mAch ~ cses + disclim + (1 | school)",
    ),
    (
        "mAch ~ cses + disclim + (1 + disclim || school)",
        "school",
        "(Intercept)",
        "mAch ~ cses + disclim + (disclim + 0 | school)",
    ),
    (
        "mAch ~ cses + disclim + (1 + disclim || school)",
        "school.1",
        "(Intercept)",
        "mAch ~ cses + disclim + (disclim + 0 | school)",
    ),
    (
        "mAch ~ cses + disclim + (1 + disclim || school)",
        "school",
        "disclim",
        "mAch ~ cses + disclim + (1 | school)",
    ),
    (
        "mAch ~ cses + disclim + (1 + disclim || school)",
        "school.1",
        "disclim",
        "mAch ~ cses + disclim + (1 | school)",
    ),
    ("y ~ (x | g)", "g", "(Intercept)", "y ~ (x + 0 | g)"),
    ("y ~ (x | g)", "g", "x", "y ~ (1 | g)"),
    ("y ~ (x || g)", "g", "(Intercept)", "y ~ (x + 0 | g)"),
    ("y ~ (x || g)", "g.1", "(Intercept)", "y ~ (x + 0 | g)"),
    ("y ~ (x || g)", "g", "x", "y ~ (1 | g)"),
    ("y ~ (x || g)", "g.1", "x", "y ~ (1 | g)"),
    ("y ~ 0 + x + (0 + x + z | g)", "g", "(Intercept)", None),
    ("y ~ 0 + x + (0 + x + z | g)", "g", "x", "y ~ 0 + x + (0 + z | g)"),
    ("y ~ 0 + x + (0 + x + z | g)", "g", "z", "y ~ 0 + x + (0 + x | g)"),
    ("y ~ 0 + x + (0 + x + z || g)", "g", "(Intercept)", None),
    ("y ~ 0 + x + (0 + x + z || g)", "g.1", "(Intercept)", None),
    ("y ~ 0 + x + (0 + x + z || g)", "g", "x", "y ~ 0 + x + (0 + z | g)"),
    ("y ~ 0 + x + (0 + x + z || g)", "g.1", "x", "y ~ 0 + x + (0 + z | g)"),
    ("y ~ 0 + x + (0 + x + z || g)", "g", "z", "y ~ 0 + x + (0 + x | g)"),
    ("y ~ 0 + x + (0 + x + z || g)", "g.1", "z", "y ~ 0 + x + (0 + x | g)"),
    ("y ~ x + (1 | g) + (0 + x | g)", "g", "(Intercept)", "y ~ x + (0 + x | g)"),
    ("y ~ x + (1 | g) + (0 + x | g)", "g", "x", "y ~ x + (1 | g)"),
    (
        "Reaction ~ Days + (Days | Subject)",
        "Subject",
        "(Intercept)",
        "Reaction ~ Days + (Days + 0 | Subject)",
    ),
    ("Reaction ~ Days + (Days | Subject)", "Subject", "Days", "Reaction ~ Days + (1 | Subject)"),
    (
        "Reaction ~ Days + (Days || Subject)",
        "Subject",
        "(Intercept)",
        "Reaction ~ Days + (Days + 0 | Subject)",
    ),
    (
        "Reaction ~ Days + (Days || Subject)",
        "Subject.1",
        "(Intercept)",
        "Reaction ~ Days + (Days + 0 | Subject)",
    ),
    ("Reaction ~ Days + (Days || Subject)", "Subject", "Days", "Reaction ~ Days + (1 | Subject)"),
    ("Reaction ~ Days + (Days || Subject)", "Subject.1", "Days", "Reaction ~ Days + (1 | Subject)"),
    ("y ~ x + (1 + x | g/h)", "g/h", "(Intercept)", "y ~ x + (x + 0 | g/h)"),
    ("y ~ x + (1 + x | g/h)", "g/h", "x", "y ~ x + (1 | g/h)"),
    ("y ~ x + (1 + x || g/h)", "g/h", "(Intercept)", "y ~ x + (x + 0 | g/h)"),
    ("y ~ x + (1 + x || g/h)", "g/h.1", "(Intercept)", "y ~ x + (x + 0 | g/h)"),
    ("y ~ x + (1 + x || g/h)", "g/h", "x", "y ~ x + (1 | g/h)"),
    ("y ~ x + (1 + x || g/h)", "g/h.1", "x", "y ~ x + (1 | g/h)"),
    ("y ~ (1 | g) + x", "g", "(Intercept)", None),
    ("y ~ (1 + f || g)", "g.1", "fb", "y ~ (1 | g)"),
]
# (outcome, fixed, slopes, cluster, slopes formula, intercept formula, uncorrelated formula)
SENSITIVITY = [
    ("mAch", (), (), "school", None, "mAch ~ 1 + (1 | school)", None),
    (
        "mAch",
        ("cses", "minrty", "sx"),
        (),
        "school",
        None,
        "mAch ~ 1 + cses + minrty + sx + (1 | school)",
        None,
    ),
    (
        "mAch",
        ("cses", "minrty", "sx", "meanses", "sector"),
        (),
        "school",
        None,
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)",
        None,
    ),
    (
        "mAch",
        ("cses", "minrty", "sx", "meanses", "sector"),
        ("cses",),
        "school",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses | school)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + (1 + cses || school)",
    ),
    (
        "mAch",
        ("cses", "minrty", "sx", "meanses", "sector", "cses:sector"),
        ("cses",),
        "school",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses | school)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 | school)",
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 + cses || school)",
    ),
    ("score", (), (), "school", None, "score ~ 1 + (1 | school)", None),
    ("score", ("gcsecnt",), (), "school", None, "score ~ 1 + gcsecnt + (1 | school)", None),
    (
        "score",
        ("gcsecnt", "gender", "meangcsescore"),
        (),
        "school",
        None,
        "score ~ 1 + gcsecnt + gender + meangcsescore + (1 | school)",
        None,
    ),
    ("course", (), (), "school", None, "course ~ 1 + (1 | school)", None),
    ("course", ("gender",), (), "school", None, "course ~ 1 + gender + (1 | school)", None),
    (
        "course",
        ("gender", "cwritten", "meanwritten"),
        (),
        "school",
        None,
        "course ~ 1 + gender + cwritten + meanwritten + (1 | school)",
        None,
    ),
    ("proficient", (), (), "school", None, "proficient ~ 1 + (1 | school)", None),
    (
        "proficient",
        ("cses", "minrty", "sx"),
        (),
        "school",
        None,
        "proficient ~ 1 + cses + minrty + sx + (1 | school)",
        None,
    ),
    (
        "proficient",
        ("cses", "minrty", "sx", "meanses", "sector"),
        (),
        "school",
        None,
        "proficient ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)",
        None,
    ),
    ("Reaction", (), (), "Subject", None, "Reaction ~ 1 + (1 | Subject)", None),
    ("Reaction", ("Days",), (), "Subject", None, "Reaction ~ 1 + Days + (1 | Subject)", None),
    (
        "Reaction",
        ("Days",),
        ("Days",),
        "Subject",
        "Reaction ~ 1 + Days + (1 + Days | Subject)",
        "Reaction ~ 1 + Days + (1 | Subject)",
        "Reaction ~ 1 + Days + (1 + Days || Subject)",
    ),
]


def _text(spec):
    return None if spec is None else spec.formula


def _structure(spec):
    """Everything a design is built from (not the text)."""
    return (spec.response, spec.fixed, spec.random, spec.variables, spec.rhs)


@pytest.mark.parametrize(("formula", "expected"), UNCORRELATED)
def test_uncorrelated_gives_the_former_strings(formula, expected):
    assert _text(uncorrelated(parse_formula(formula))) == expected


@pytest.mark.parametrize(("formula", "group", "effect", "expected"), DROP)
def test_drop_random_effect_gives_the_former_strings(formula, group, effect, expected):
    assert _text(drop_random_effect(parse_formula(formula), group, effect, COLUMNS)) == expected


@pytest.mark.parametrize("row", SENSITIVITY)
def test_sensitivity_random_options_give_the_former_strings(row):
    """The multiverse's random options are the variant plan's model edits
    (:func:`mlmpipe.plan.sequence.with_random`); they give the strings of the former
    specification formula builder. (A slopes option of a model without slopes is recorded as
    failed by :mod:`mlmpipe.plan.variants`.)"""
    from types import SimpleNamespace

    outcome, fixed, slopes, cluster, *expected = row
    levels = [SimpleNamespace(name=cluster, id=cluster)]  # the cluster level (name, id column)
    random = FrozenMap.of({levels[0].name: tuple(slopes)} if slopes else {})
    model = ModelSpec("m", None, formula_of(outcome, levels, fixed, random), fixed, random, True)
    for choice, want in zip(["slopes", "intercept", "uncorrelated"], expected, strict=True):
        if want is not None:
            assert with_random(model, outcome, levels, choice).formula == want
    assert with_random(model, outcome, levels, "intercept").formula == expected[1]


def test_non_canonical_text_is_rendered_as_r_deparses_it_with_the_same_design():
    """The former text surgery kept ``x*z`` verbatim; the rendering spaces it as R's deparse.
    The terms, hence the design, are those of the former string."""
    new = uncorrelated(parse_formula("y ~ x*z + (x*z | g)"))
    assert new.formula == "y ~ x * z + (x * z || g)"
    assert _structure(parse_formula("y ~ x*z + (x*z || g)"))[:4] == _structure(new)[:4]
    # (x*z | g) has three terms besides the intercept: without the intercept it stays ||
    # (the former count of "+"-separated pieces made it correlated)
    drop = drop_random_effect(new, "g", "(Intercept)", COLUMNS)
    assert drop.formula == "y ~ x * z + (x * z + 0 || g)"


def test_a_bar_is_kept_whole_and_unchanged_formulas_keep_their_text():
    spec = parse_formula("y ~ x + (1 + x || g)")
    assert len(spec.bars) == 1 and len(spec.random) == 2  # one bar, lme4's two terms
    assert render(spec) == "y ~ x + (1 + x || g)"
    assert parse_formula("y~x+(1+x||g)").formula == "y~x+(1+x||g)"  # the text as given
    assert render(parse_formula("y~x+(1+x||g)")) == "y ~ x + (1 + x || g)"


def test_uncorrelated_none_when_nothing_to_do_and_idempotent():
    assert uncorrelated(parse_formula("y ~ x + (1 | g) + (0 + x | h)")) is None
    once = uncorrelated(parse_formula("y ~ x + (x | g) + (1 | h)"))
    assert once.formula == "y ~ x + (x || g) + (1 | h)"
    assert uncorrelated(once) is None


def test_drop_random_effect_factor_dummy_and_group_index():
    spec = parse_formula("y ~ x + (1 + f + x | g)")
    assert drop_random_effect(spec, "g", "fb", COLUMNS).formula == "y ~ x + (1 + x | g)"
    spec = parse_formula("y ~ x + (1 + x || g)")
    assert drop_random_effect(spec, "g.2", "x", COLUMNS).formula == "y ~ x + (1 | g)"
    assert drop_random_effect(spec, "g", "w", COLUMNS) is None
    assert drop_random_effect(parse_formula("y ~ (1 | g)"), "g", "(Intercept)", COLUMNS) is None
    # the other bar of the same group is left alone
    two = parse_formula("y ~ x + (1 | g) + (0 + x | g)")
    assert drop_random_effect(two, "g", "x", COLUMNS).formula == "y ~ x + (1 | g)"
    # dropping the first operand of a chain keeps a parseable formula
    first = parse_formula("y ~ (1 | g) + x")
    assert drop_random_effect(first, "g", "(Intercept)", COLUMNS) is None
    lead = parse_formula("y ~ (1 | g) + x + (0 + x | h)")
    assert drop_random_effect(lead, "g", "(Intercept)", COLUMNS).formula == "y ~ x + (0 + x | h)"


def test_random_intercepts_only_keeps_one_bar_per_group():
    spec = parse_formula("y ~ x + (1 + x | g) + (0 + z | g) + (x || h)")
    assert random_intercepts_only(spec).formula == "y ~ x + (1 | g) + (1 | h)"


def test_add_and_remove_fixed_terms():
    spec = parse_formula("y ~ x + (1 | g)")
    assert add_fixed(spec, "z").formula == "y ~ x + z + (1 | g)"
    assert add_fixed(spec, "x") is spec  # already in the model
    assert add_fixed(spec, "z + x:z").formula == "y ~ x + z + x:z + (1 | g)"
    assert without_fixed(add_fixed(spec, "z"), "z").formula == "y ~ x + (1 | g)"
    assert without_fixed(parse_formula("y ~ x*z + (1 | g)"), "x:z").formula == (
        "y ~ x + z + (1 | g)"
    )
    assert without_fixed(parse_formula("y ~ x*z + (1 | g)"), "z:x").formula == (
        "y ~ x + z + (1 | g)"
    )
    assert without_fixed(spec, "w") is None
    assert without_fixed(spec, "1").formula == "y ~ 0 + x + (1 | g)"
    assert without_fixed(parse_formula("y ~ 0 + x"), "1") is None
    assert without_fixed(parse_formula("y ~ x"), "x").formula == "y ~ 1"
    with pytest.raises(FormulaError, match="random-effects term"):
        add_fixed(spec, "(1 | h)")
    with pytest.raises(FormulaError, match="not one fixed-effects term"):
        without_fixed(spec, "x + z")


def test_formula_from_parts():
    spec = formula_from("y", ["1", "x", "x:z"], [(["1", "x"], "g"), (["1"], "h")])
    assert spec.formula == "y ~ 1 + x + x:z + (1 + x | g) + (1 | h)"
    assert _structure(spec) == _structure(parse_formula(spec.formula))
    assert formula_from("y", [], [(["1", "x"], "g")], double=True).formula == "y ~ (1 + x || g)"
    assert formula_from(None, ["x"]).formula == "~x"
    quoted = formula_from("`my y`", ["`my x`"])  # terms are R expressions: names in backticks
    assert quoted.formula == "`my y` ~ `my x`" and quoted.variables == {"my y", "my x"}
    assert _structure(parse_formula(quoted.formula)) == _structure(quoted)


def test_predictors_exclude_response_and_grouping_columns():
    spec = parse_formula("log(y) ~ x + I(z^2) + (1 + w | g/h) + (1 | k)")
    assert spec.predictors == {"x", "z", "w"}
    assert spec.grouping_variables == {"g", "h", "k"}


# --------------------------------------------------------------------------- properties

FIXED = ["x", "z", "f", "x:z", "x*z", "log(z)", "I(x^2)", "0", "1", "f:x"]
LHS = ["1", "0", "x", "z", "f", "x:z", "log(z)"]
GROUPS = ["g", "h", "g/h", "g:h"]


@st.composite
def formulas(draw) -> str:
    fixed = draw(st.lists(st.sampled_from(FIXED), max_size=4, unique=True))
    signs = [draw(st.sampled_from([" + ", " - "])) if i else "" for i in range(len(fixed))]
    bars = []
    for _ in range(draw(st.integers(1, 3))):
        lhs = draw(st.lists(st.sampled_from(LHS), min_size=1, max_size=3, unique=True))
        op = draw(st.sampled_from(["|", "||"]))
        bars.append(f"({' + '.join(lhs)} {op} {draw(st.sampled_from(GROUPS))})")
    parts = ["".join(s + t for s, t in zip(signs, fixed, strict=True))] if fixed else []
    return "y ~ " + " + ".join([*parts, *bars])


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 120
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "z": rng.uniform(1, 2, size=n),
            "f": rng.choice(["a", "b", "c"], n),
            "g": rng.integers(1, 6, n),
            "h": rng.choice(["u", "v", "w"], n),
        }
    )


DATA = _data()


def _same_design(a, b) -> None:
    da, db = build_design(a, DATA), build_design(b, DATA)
    assert da.fixed_names == db.fixed_names
    np.testing.assert_array_equal(da.X, db.X)
    assert [(t.group, t.names, t.levels) for t in da.re_terms] == [
        (t.group, t.names, t.levels) for t in db.re_terms
    ]
    for ta, tb in zip(da.re_terms, db.re_terms, strict=True):
        np.testing.assert_array_equal(ta.Z, tb.Z)
        np.testing.assert_array_equal(ta.codes, tb.codes)


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(formulas())
def test_render_round_trips(text):
    spec = parse_formula(text)
    again = parse_formula(render(spec))
    assert render(again) == render(spec)
    assert _structure(again) == _structure(spec)


@PROPERTY
@given(formulas())
def test_uncorrelated_is_idempotent_and_renders_to_its_own_spec(text):
    new = uncorrelated(parse_formula(text))
    if new is None:
        return
    assert uncorrelated(new) is None
    assert new.formula == render(new)
    assert _structure(parse_formula(new.formula)) == _structure(new)
    assert all(b.double or len(b.terms.terms) + b.terms.intercept <= 1 for b in new.bars)


@PROPERTY
@given(formulas(), st.data())
def test_dropping_an_effect_parses_and_builds_the_design_of_its_rendering(text, draw):
    spec = parse_formula(text)
    bar = draw.draw(st.sampled_from(spec.bars))
    names = [*bar.terms.term_labels, "(Intercept)"]
    effect = draw.draw(st.sampled_from(names))
    new = drop_random_effect(spec, bar.group_name, effect, ["f", "x", "z"])
    if new is None:
        return
    assert new.bars
    assert _structure(parse_formula(new.formula)) == _structure(new)
    try:
        build_design(new, DATA)
    except FormulaError:
        return  # e.g. a grouping factor g:h with one observed level: not the edit's concern
    _same_design(new, parse_formula(new.formula))
