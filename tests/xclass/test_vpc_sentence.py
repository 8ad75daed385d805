"""The executive summary names the variance partition coefficient of every grouping factor."""

from mlmpipe.report.executive import _icc_sentence

ES = {
    "null_model": "m0", "group": "primary", "icc_ci": {},
    "design_effect": {"icc": 0.1176, "design_effect": 3.61, "n_effective": 951.0, "n": 3435},
    "models": {"m0": {"icc": {"primary": 0.11755, "second": 0.03872}}},
}  # fmt: skip


def test_crossed_null_model_lists_each_classification_vpc():
    text = _icc_sentence(ES, "attain")
    assert text.endswith(
        "Variance partition coefficients of the null model by grouping factor: primary 0.118, "
        "second 0.039."
    )


def test_one_grouping_factor_keeps_the_sentence():
    es = {**ES, "models": {"m0": {"icc": {"primary": 0.11755}}}}
    assert "Variance partition" not in _icc_sentence(es, "attain")
