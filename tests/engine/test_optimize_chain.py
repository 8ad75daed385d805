"""The optimizer fallback chain of mlmpipe.engine.optimize (shared with the convergence ladder).

Expected summaries are those of the former hand-written chain (BOBYQA -> COBYQA -> Nelder-Mead),
run once on the same objective: walking ``OPTIMIZERS`` must give the same attempts, messages and
end points.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlmpipe.engine.optimize import (
    OPTIMIZERS,
    next_optimizer,
    optimize_theta,
    optimizer_chain,
    restart_point,
)
from mlmpipe.errors import PlanError

START = np.array([1.5, 0.2, 0.7])
LOWER = np.array([0.0, -np.inf, 0.0])


def rosen(x: np.ndarray) -> float:
    return float(sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2) + 0.1 * np.sum(x**2))


def test_chain_order_and_next_optimizer():
    assert OPTIMIZERS == ("bobyqa", "cobyqa", "nelder-mead")
    assert optimizer_chain() == OPTIMIZERS
    assert optimizer_chain("cobyqa") == ("cobyqa", "nelder-mead")
    assert next_optimizer("bobyqa") == "cobyqa"
    assert next_optimizer("nelder-mead") is None
    with pytest.raises(PlanError, match="optimizer: 'lbfgs' is not allowed"):
        optimizer_chain("lbfgs")
    with pytest.raises(PlanError, match="optimizer: 'lbfgs' is not allowed"):
        optimize_theta(rosen, START, LOWER, optimizer="lbfgs")


def test_restart_point_moves_half_the_default_start_off_the_boundary():
    end, start = np.array([0.0, 0.3, 1e-9]), np.array([1.0, 0.0, 1.0])
    np.testing.assert_array_equal(restart_point(end, start), end + 0.5 * start)


FAILING = {  # maxfev = 5: every optimizer of the chain fails and hands over
    "bobyqa": (
        "BOBYQA+COBYQA+Nelder-Mead",
        [
            "BOBYQA: reached the maximum of 5 evaluations; restarted with COBYQA",
            "COBYQA: The maximum number of iterations has been exceeded; restarted with "
            "Nelder-Mead",
        ],
        [0.525, 0.7, 0.7],
        15,
    ),
    "cobyqa": (
        "COBYQA+Nelder-Mead",
        ["COBYQA: The maximum number of iterations has been exceeded; restarted with Nelder-Mead"],
        [0.95, 0.20666666666666672, 0.7233333333333332],
        10,
    ),
    "nelder-mead": (
        "Nelder-Mead",
        [],
        [1.4249999999999998, 0.20666666666666672, 0.7233333333333332],
        5,
    ),
}


@pytest.mark.parametrize("first", OPTIMIZERS)
def test_each_failure_hands_over_to_the_next_optimizer_and_the_last_one_flags(first):
    method, fallbacks, end, feval = FAILING[first]
    x, summ = optimize_theta(rosen, START, LOWER, maxfev=5, optimizer=first)
    assert summ.method == method and summ.fallbacks == fallbacks
    assert not summ.converged
    assert summ.messages == [
        "Nelder-Mead: Maximum number of function evaluations has been exceeded."
    ]
    assert summ.feval == feval
    np.testing.assert_allclose(x, end, rtol=1e-12)
    assert summ.theta_start == START.tolist()


SUCCEEDING = {
    "bobyqa": ("BOBYQA", [0.9025470059378138, 0.8145512594373043, 0.6628309255790777]),
    "cobyqa": ("COBYQA", [0.9025468558735925, 0.8145509480594886, 0.6628304165763556]),
    "nelder-mead": ("Nelder-Mead", [0.9025468527501079, 0.8145509426512245, 0.6628304076228542]),
}


@pytest.mark.parametrize("first", OPTIMIZERS)
def test_a_successful_optimizer_ends_the_chain(first):
    method, end = SUCCEEDING[first]
    x, summ = optimize_theta(rosen, START, LOWER, optimizer=first)
    assert summ.method == method and summ.fallbacks == [] and summ.converged
    np.testing.assert_allclose(x, end, rtol=1e-7)
