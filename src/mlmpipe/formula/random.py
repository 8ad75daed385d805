"""Grouping factors of random-effects terms (lme4's ``mkBlist``).

A grouping factor ``a:b`` has as levels the *observed* combinations, ordered by ``a``'s levels then
``b``'s (lme4's ``%i%``), labelled ``"<a level>:<b level>"``. Each leaf (``a``, ``b``) is a
factor as R's ``factor()`` makes it: numeric IDs sort numerically, strings sort, a ``Categorical``
keeps its order; unused levels are dropped. A grouping factor must have more than one level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmpipe.errors import FormulaError
from mlmpipe.formula.evaluate import Factor


@dataclass(frozen=True)
class GroupState:
    """What was learned about a grouping factor at fit time (reused for prediction).

    Attributes:
        leaf_levels: levels of each leaf factor, outermost first.
        keys: sorted mixed-radix keys of the observed level combinations (one per level).
        levels: labels of the grouping factor's levels, in code order.
    """

    leaf_levels: tuple[tuple[str, ...], ...]
    keys: np.ndarray
    levels: tuple[str, ...]


def _keys(leaves: list[Factor], sizes: list[int]) -> np.ndarray:
    key = np.zeros(len(leaves[0].codes), dtype=np.int64)
    for f, size in zip(leaves, sizes, strict=True):
        key = key * size + f.codes
    return key


def fit_group(leaves: list[Factor], name: str, formula: str) -> tuple[np.ndarray, GroupState]:
    """Codes (0-based) and learned state of a grouping factor from complete-case leaves."""
    leaves = [f.drop_unused() for f in leaves]
    if len(leaves) == 1:
        f = leaves[0]
        codes, levels = f.codes, f.levels
        keys = np.arange(len(levels), dtype=np.int64)
    else:
        sizes = [len(f.levels) for f in leaves]
        if float(np.prod(np.array(sizes, dtype=float))) >= 2.0**62:
            raise FormulaError(f"grouping factor {name!r} has too many level combinations")
        keys, codes = np.unique(_keys(leaves, sizes), return_inverse=True)
        digits = []
        rest = keys.copy()
        for size in reversed(sizes):
            digits.append(rest % size)
            rest //= size
        digits.reverse()
        parts = [np.asarray(f.levels, dtype=object)[d] for f, d in zip(leaves, digits, strict=True)]
        levels = tuple(":".join(t) for t in zip(*parts, strict=True))
    if len(levels) < 2:
        raise FormulaError(
            f"grouping factor {name!r} must have > 1 sampled level "
            f"(has {len(levels)}) in formula {formula!r}"
        )
    state = GroupState(tuple(f.levels for f in leaves), keys, tuple(levels))
    return np.asarray(codes, dtype=np.int64), state


def new_group_codes(leaves: list[Factor], state: GroupState) -> np.ndarray:
    """Codes of new observations in a fitted grouping factor; -1 for a level not seen in fitting."""
    recoded = [f.recode(lv) for f, lv in zip(leaves, state.leaf_levels, strict=True)]
    unseen = np.zeros(len(recoded[0].codes), dtype=bool)
    for f in recoded:
        unseen |= f.codes < 0
    if len(recoded) == 1:
        codes = recoded[0].codes.copy()
    else:
        sizes = [len(lv) for lv in state.leaf_levels]
        key = _keys([Factor(np.where(unseen, 0, f.codes), f.levels) for f in recoded], sizes)
        pos = np.searchsorted(state.keys, key)
        pos = np.minimum(pos, len(state.keys) - 1)
        found = state.keys[pos] == key
        codes = np.where(found, pos, -1)
    codes[unseen] = -1
    return codes.astype(np.int64)


def lme4_term_order(nlevels: list[int]) -> list[int]:
    """The order in which lme4's ``mkReTrms`` stores random-effects terms (indices into ``nlevels``).

    lme4 reorders terms only when some term has more levels than the one before it, and then uses
    ``rev(order(nlevels))``: decreasing number of levels, with ties in *reverse* formula order.
    ``Design.re_terms`` stays in formula order; use this to match lme4's ``theta``/``VarCorr`` order.
    """
    if not any(b > a for a, b in zip(nlevels, nlevels[1:], strict=False)):
        return list(range(len(nlevels)))
    return sorted(range(len(nlevels)), key=lambda i: nlevels[i])[::-1]
