"""Small synthetic designs for engine tests, built directly as arrays (no formula layer)."""

from __future__ import annotations

import numpy as np
import pytest

from mlmpipe.formula.terms import Design, ReTerm


def make_design(
    rng: np.random.Generator,
    n: int = 120,
    groups: tuple[tuple[int, int], ...] = ((12, 2), (5, 1)),
    nested: bool = False,
    p: int = 2,
) -> Design:
    """A random design with one term per (nlevels, q) pair; ``nested`` makes term k+1 group term k."""
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    terms = []
    prev_codes = None
    for k, (m, q) in enumerate(groups):
        if nested and prev_codes is not None:
            parent = rng.integers(0, m, size=int(prev_codes.max()) + 1)
            parent[:m] = np.arange(m)  # every parent level sampled
            codes = parent[prev_codes]
        else:
            codes = rng.permutation(np.arange(n) % m)
        prev_codes = codes
        Z = np.column_stack([np.ones(n), rng.normal(size=(n, q - 1))])
        names = ("(Intercept)",) + tuple(f"z{j}" for j in range(1, q))
        terms.append(ReTerm(f"g{k}", codes, tuple(str(i) for i in range(m)), names, Z))
    b = sum(rng.normal(size=(t.nlevels, t.q))[t.codes].__mul__(t.Z).sum(axis=1) for t in terms)
    y = X @ rng.normal(size=p) + b + rng.normal(size=n)
    return Design(
        y=y,
        X=X,
        fixed_names=tuple(["(Intercept)"] + [f"x{j}" for j in range(1, p)]),
        re_terms=tuple(terms),
        offset=None,
        rows=np.arange(n),
        formula="synthetic",
        response="y",
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261126)
