"""The ``Z`` block of a multiple-membership term and its cross-products.

For a term ``(expr | mm(g1, ..., gK, weights = ...))`` with raw columns ``z_i`` (q of them) and
memberships ``(g_ik, w_ik)``, row i of the term's n x (m q) model matrix is

    Z[i, g_ik q + a] = sum over slots k with g_ik = l of  w_ik z_ia,

several non-zeros per row (Hill & Goldstein 1998, J. Educ. Behav. Stat. 23(2), eq. 2; Browne,
Goldstein & Rasbash 2001, Stat. Model. 1(2)). The relative covariance factor is the same
``I_m (x) T`` as for a nested term, so the profiled (RE)ML deviance of :mod:`mlmpipe.engine.lmm`
applies unchanged (Bates et al. 2015, J. Stat. Softw. 67(1), eqs. 34 and 41); what changes is that
``Z'Z`` of the term is no longer block diagonal over its levels (two clusters sharing a member are
coupled), so its diagonal block is kept as one dense (m q) x (m q) matrix, the same form a crossed
term's block takes after fill-in. lme4 users build the same model by replacing a term's ``Zt``
(tests/fixtures/membership/make_mm_fixtures.R).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mlmpipe.formula.terms import ReTerm


def membership_z(term: ReTerm) -> sp.csr_matrix:
    """The n x (m q) model matrix of a multiple-membership term (duplicate slots summed)."""
    mem = term.membership
    if mem is None:
        raise ValueError(f"term {term.group!r} is not a multiple-membership term")
    n, q = term.Z.shape
    used = mem.codes >= 0  # (n, K)
    rows_k, slots = np.nonzero(used)
    codes = mem.codes[rows_k, slots]
    w = mem.weights[rows_k, slots]
    rows = np.repeat(rows_k, q)
    cols = (codes[:, None] * q + np.arange(q)[None, :]).ravel()
    vals = (w[:, None] * term.Z[rows_k, :]).ravel()
    Z = sp.csr_matrix((vals, (rows, cols)), shape=(n, term.nlevels * q))
    Z.sum_duplicates()
    return Z


def weighted_crossprod(Zi: sp.csr_matrix, Zj: sp.csr_matrix, w: np.ndarray | None) -> sp.csr_matrix:
    """``Z_i' W Z_j`` (W = I when ``w`` is None), sparse."""
    if w is not None:
        Zj = sp.diags(np.asarray(w, float)) @ Zj
    out = (Zi.T @ Zj).tocsr()
    out.sum_duplicates()
    return out
