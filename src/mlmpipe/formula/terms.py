"""Model-matrix containers shared by the formula layer and the estimation engine.

The engine knows only these arrays; the formula layer builds them from a data frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Membership:
    """The memberships of a multiple-membership term (``mlmpipe.formula.membership``).

    Attributes:
        codes: (n, K) int array, the level of each row's k-th membership; -1 for an empty slot.
        weights: (n, K) float array, the weight of each membership (0 in empty slots), already
            scaled (rows sum to 1 unless ``scale = FALSE``).
    """

    codes: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class ReTerm:
    """One random-effects term ``(expr | group)`` evaluated on the data.

    Attributes:
        group: R-style name of the grouping factor, e.g. ``"school"`` or ``"school:class"``.
        codes: (n,) int array, level index 0..nlevels-1 of each observation.
        levels: labels of the levels, in code order (sorted as R sorts factor levels).
        names: column names of the term, R style, e.g. ``("(Intercept)", "ses")``.
        Z: (n, q) float array, the raw model-matrix columns of the term (before expansion by
            the grouping indicators).
        membership: for a multiple-membership term ``(expr | mm(...))``, every membership of each
            row with its weight; the row's block of the term's Z is then
            ``sum_k weights[:, k] * Z`` at level ``membership.codes[:, k]``. ``codes`` holds
            the largest-weight membership only (for summaries by cluster; the engine uses
            ``membership``). None for an ordinary term.
    """

    group: str
    codes: np.ndarray
    levels: tuple[str, ...]
    names: tuple[str, ...]
    Z: np.ndarray
    membership: Membership | None = None

    @property
    def nlevels(self) -> int:
        return len(self.levels)

    @property
    def q(self) -> int:
        return self.Z.shape[1]


@dataclass(frozen=True)
class Design:
    """Everything the engine needs to fit ``y = X beta + offset + sum_i Z_i b_i + e``.

    Attributes:
        y: (n,) response (or (n, 2) successes/failures for ``cbind`` responses).
        X: (n, p) fixed-effects model matrix (treatment contrasts, R column order).
        fixed_names: R-style names of the columns of X.
        re_terms: random-effects terms in formula order (``||`` and ``/`` already expanded).
        offset: (n,) offset or None.
        rows: (n,) positions (``iloc``) of the data rows used after removing incomplete rows.
        formula: the formula as given.
        response: name of the response expression.
        spec: the parsed formula object, reusable on new data (see ``mlmpipe.formula``).
        y_factor: a categorical response as a ``Factor`` over ``rows`` with every declared level
            kept (unused ones too), for ordinal models; None for a numeric response.
    """

    y: np.ndarray
    X: np.ndarray
    fixed_names: tuple[str, ...]
    re_terms: tuple[ReTerm, ...]
    offset: np.ndarray | None
    rows: np.ndarray
    formula: str
    response: str
    spec: object = field(default=None, repr=False)
    y_factor: object = field(default=None, repr=False)
