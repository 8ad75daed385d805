"""Nested-imputation combining rules (Rubin 2003) against a hand computation, and their reduction
to Rubin's rules."""

from __future__ import annotations

import numpy as np
import pytest

from mlmpipe.missing.nested import pool_nested_scalar
from mlmpipe.missing.rubin import pool_scalar


def test_nested_rules_match_hand_computation():
    # M = 2 plausible values x N = 2 imputations, all within-variances 1.
    q = np.array([[1.0, 3.0], [5.0, 7.0]])
    u = np.ones_like(q)
    res = pool_nested_scalar(q, u)
    # qbar_m = (2, 6), qbar = 4; B = ((2-4)^2 + (6-4)^2) / 1 = 8;
    # W = ((1-2)^2 + (3-2)^2 + (5-6)^2 + (7-6)^2) / (2 * 1) = 2;
    # T = 1 + (1 + 1/2) 8 + (1 - 1/2) 2 = 14;
    # 1/nu = 12^2 / (1 * 14^2) + 1^2 / (2 * 14^2) = 289 / 392.
    assert res["estimate"][0] == pytest.approx(4.0)
    assert res["between_pv"][0] == pytest.approx(8.0)
    assert res["within_pv"][0] == pytest.approx(2.0)
    assert res["t"][0] == pytest.approx(14.0)
    assert res["df"][0] == pytest.approx(392 / 289)
    assert res["fmi_pv"][0] == pytest.approx(12 / 14)
    assert res["fmi_imputation"][0] == pytest.approx(1 / 14)
    assert res["lambda"][0] == pytest.approx(13 / 14)


def test_nested_rules_three_by_three_by_hand():
    q = np.array([[0.0, 1.0, 2.0], [2.0, 2.0, 2.0], [4.0, 3.0, 5.0]])
    u = np.full_like(q, 0.5)
    res = pool_nested_scalar(q, u)
    # qbar_m = (1, 2, 4), qbar = 7/3; B = ((1-7/3)^2 + (2-7/3)^2 + (4-7/3)^2) / 2 = 7/3
    # W = ((1 + 0 + 1) + 0 + (0 + 1 + 1)) / (3 * 2) = 2/3
    # T = 0.5 + (4/3)(7/3) + (2/3)(2/3) = 0.5 + 28/9 + 4/9 = 0.5 + 32/9
    t = 0.5 + 32 / 9
    inv = (28 / 9) ** 2 / (2 * t**2) + (4 / 9) ** 2 / (6 * t**2)
    assert res["between_pv"][0] == pytest.approx(7 / 3)
    assert res["within_pv"][0] == pytest.approx(2 / 3)
    assert res["t"][0] == pytest.approx(t)
    assert res["df"][0] == pytest.approx(1 / inv)


def test_no_imputation_variance_reduces_to_rubin_over_pvs():
    rng = np.random.default_rng(4)
    pv = rng.normal(size=(5, 3))
    q = np.repeat(pv[:, None, :], 4, axis=1)  # identical imputations within each PV: W = 0
    u = rng.uniform(0.5, 1.5, size=(5, 3))
    uu = np.repeat(u[:, None, :], 4, axis=1)
    nested = pool_nested_scalar(q, uu)
    rubin = pool_scalar(pv, u)
    assert np.allclose(nested["within_pv"], 0.0)
    assert np.allclose(nested["estimate"], rubin["estimate"])
    assert np.allclose(nested["t"], rubin["t"])
    # the nested df is Rubin's (M - 1) / lambda^2 (no flooring of lambda)
    assert np.allclose(nested["df"], 4 / rubin["lambda"] ** 2)


def test_finite_complete_data_df_lowers_df():
    q = np.array([[1.0, 1.2], [1.5, 1.4], [0.9, 1.1]])
    u = np.full_like(q, 0.04)
    assert pool_nested_scalar(q, u, dfcom=30.0)["df"][0] < pool_nested_scalar(q, u)["df"][0]


def test_needs_two_values_and_two_imputations():
    with pytest.raises(ValueError, match="2 plausible values"):
        pool_nested_scalar(np.ones((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="2 imputations"):
        pool_nested_scalar(np.ones((3, 1)), np.ones((3, 1)))
