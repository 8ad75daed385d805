import yaml

from mlmpipe.plan import Plan


def test_random_slope_brings_its_fixed_effect_and_formula_override(tmp_path):
    cfg = yaml.safe_load(open("config/analysis.yaml"))
    for key in ("hypotheses", "sensitivity"):  # they name models of the example sequence
        cfg.pop(key)
    cfg["models"] = [
        {"name": "a"},
        {"name": "b", "add_random": {"school": ["cses"]}},
        {"name": "c", "formula": "mAch ~ cses + (1 | school)"},
        {"name": "d", "add_fixed": ["sector"]},
    ]
    p = Plan.from_config(cfg)
    assert p.model("b").formula == "mAch ~ 1 + cses + (1 + cses | school)"
    assert p.model("c").formula == "mAch ~ cses + (1 | school)"
    assert p.model("d").formula == "mAch ~ 1 + cses + sector + (1 + cses | school)"


def test_three_levels_get_random_intercepts_top_down():
    cfg = yaml.safe_load(open("config/analysis.yaml"))
    for key in ("hypotheses", "sensitivity"):  # they name models of the example sequence
        cfg.pop(key)
    cfg["levels"].insert(1, {"name": "classroom", "id": "class", "predictors": {}})
    cfg["models"] = [{"name": "null"}]
    p = Plan.from_config(cfg)
    assert p.model("null").formula == "mAch ~ 1 + (1 | school) + (1 | class)"
