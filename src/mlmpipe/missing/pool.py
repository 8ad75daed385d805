"""Pooling fits across imputations.

With one data set (no imputation) pooling is the identity. Rubin's rules (and Barnard–Rubin df)
arrive with multiple imputation.
"""

from __future__ import annotations

import copy


def pool_fits(fits: list[dict]) -> dict:
    if len(fits) == 1:
        out = copy.deepcopy(fits[0])
        out["pooling"] = {"method": "identity", "m": 1}
        return out
    raise NotImplementedError(
        f"pooling {len(fits)} imputations needs Rubin's rules, which arrive with multiple imputation"
    )
