"""The Laplace deviance of a cumulative-link mixed model with one scalar random-effects term,
vectorised over clusters, and its analytic gradient (the fit ``ordinal::clmm`` makes).

With ``eta_i = o_i + x_i'beta + theta z_i u_j`` (cluster ``j`` of row ``i``),
``l_i = log[F(a_{y_i} - eta_i) - F(a_{y_i - 1} - eta_i)]`` and Newton weights ``w_i = -d^2 l_i/d eta^2``,

    D(theta, beta, alpha) = -2 sum_i l_i + sum_j u_j^2 + sum_j log(1 + theta^2 sum_{i in j} z_i^2 w_i)

at the conditional modes ``u_j`` (Christensen 2019, ordinal package; Bates et al. 2015 for the
Laplace form). The clusters' modes are independent scalar Newton problems, solved together. The
gradient is exact: the partial derivatives at fixed ``u`` plus, by the implicit function theorem,
the log-determinant's dependence on ``u`` times ``du/dpar = (dG/dpar) / h`` (``G`` the score of
``u_j``, ``h_j`` its negative Hessian), which needs the third derivative of ``l`` in ``eta``.
Parameters: ``(theta, beta, alpha_1, log(alpha_2 - alpha_1), ...)`` as in ``engine/ordinal.py``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from mlmpipe.errors import EstimationError


def _dens(link: str, x: np.ndarray):
    """F, f, f', f'' at x (+-inf give F in {0, 1} and zero derivatives)."""
    fin = np.isfinite(x)
    if link == "logit":
        F = special.expit(x)
        f = F * (1 - F)
        f1 = f * (1 - 2 * F)
        return F, f, f1, f1 * (1 - 2 * F) - 2 * f * f
    xs = np.where(fin, x, 0.0)
    f = np.where(fin, np.exp(-(xs**2) / 2.0) / np.sqrt(2 * np.pi), 0.0)
    return special.ndtr(x), f, -xs * f, (xs * xs - 1) * f


class OrdinalLaplace:
    """``deviance_grad(par)`` for one scalar term; conditional modes warm-start between calls."""

    def __init__(self, model) -> None:
        r = model.lmm.reterms[0]
        self.codes = np.asarray(r.term.codes)
        self.z = np.asarray(r.term.Z[:, 0], float)
        self.m = int(self.codes.max()) + 1
        self.X = np.asarray(model.lmm.X, float)
        self.off = np.asarray(model.offset, float)
        self.wt = np.asarray(model.wt, float)
        self.y = np.asarray(model.y).astype(int)
        self.link = model.family.link.name
        self.nalpha = model.family.nextra
        self.p = self.X.shape[1]
        K = self.nalpha
        self.up = (self.y <= K - 1)[:, None] * (np.arange(K) == self.y[:, None])  # a_y is alpha_k
        self.lo = (self.y >= 1)[:, None] * (np.arange(K) == self.y[:, None] - 1)
        self.u = np.zeros(self.m)
        self.z2 = self.z * self.z

    def _sum(self, v: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, weights=v, minlength=self.m)

    def _alpha(self, extra: np.ndarray) -> np.ndarray:
        return np.cumsum(np.concatenate([extra[:1], np.exp(extra[1:])]))

    def _l(self, alpha: np.ndarray, eta: np.ndarray, order: int):
        """log p and its derivatives in (A, B) = (a_y - eta, a_{y-1} - eta) up to ``order``."""
        a_ext = np.concatenate([[-np.inf], alpha, [np.inf]])
        A, B = a_ext[self.y + 1] - eta, a_ext[self.y] - eta
        FA, fA, dA, ddA = _dens(self.link, A)
        FB, fB, dB, ddB = _dens(self.link, B)
        SA, SB = _dens(self.link, -A)[0], _dens(self.link, -B)[0]
        P = np.maximum(np.where(B > 0, SB - SA, FA - FB), 1e-300)
        lA, lB = fA / P, -fB / P
        lAA, lBB, lAB = dA / P - lA * lA, -dB / P - lB * lB, -lA * lB
        out = {"l": np.log(P), "lA": lA, "lB": lB, "lAA": lAA, "lBB": lBB, "lAB": lAB}
        if order >= 3:
            out["lAAA"] = ddA / P - (dA / P) * lA - 2 * lA * lAA
            out["lAAB"] = -(dA / P) * lB - 2 * lA * lAB
            out["lABB"] = -(lAB * lB + lA * lBB)
            out["lBBB"] = -ddB / P + (dB / P) * lB - 2 * lB * lBB
        return out

    def modes(self, theta: float, lin: np.ndarray, alpha: np.ndarray, tol: float = 1e-11):
        """Conditional modes ``u_j`` by vectorised Newton with step halving (the cluster
        objective ``sum l_i - u_j^2 / 2`` is concave, ``l`` being log-concave in eta)."""
        u = self.u.copy()

        def obj(u):
            d = self._l(alpha, lin + theta * self.z * u[self.codes], 2)
            return self._sum(self.wt * d["l"]) - 0.5 * u * u, d

        val, d = obj(u)
        for _ in range(200):
            l1 = -(d["lA"] + d["lB"])
            w = -(d["lAA"] + 2 * d["lAB"] + d["lBB"])
            g = theta * self._sum(self.wt * self.z * l1) - u
            h = 1 + theta * theta * self._sum(self.wt * self.z2 * w)
            if np.max(np.abs(g)) < tol:
                break
            step = g / h
            for _ in range(30):
                new, dn = obj(u + step)
                bad = new < val - 1e-12 * (1 + np.abs(val))
                if not bad.any():
                    break
                step = np.where(bad, step / 2, step)
            u, val, d = u + step, new, dn
        else:
            raise EstimationError("ordinal Laplace: the conditional modes did not converge")
        self.u = u
        return u

    def deviance_grad(self, par: np.ndarray) -> tuple[float, np.ndarray]:
        """The Laplace deviance and its gradient in ``(theta, beta, extra)``."""
        theta, beta, extra = float(par[0]), par[1 : 1 + self.p], par[1 + self.p :]
        alpha = self._alpha(extra)
        lin = self.off + self.X @ beta
        u = self.modes(theta, lin, alpha)
        uj = u[self.codes]
        d = self._l(alpha, lin + theta * self.z * uj, 3)
        wt, z, z2, X, up, lo = self.wt, self.z, self.z2, self.X, self.up, self.lo
        l1 = -(d["lA"] + d["lB"])  # dl/deta
        l2 = d["lAA"] + 2 * d["lAB"] + d["lBB"]
        l3 = -(d["lAAA"] + 3 * d["lAAB"] + 3 * d["lABB"] + d["lBBB"])
        w, w1 = -l2, -l3
        S = self._sum(wt * z2 * w)
        h = 1 + theta * theta * S
        dev = float(-2 * np.sum(wt * d["l"]) + np.sum(u * u) + np.sum(np.log(h)))
        # d/d alpha_k at fixed eta: l, l' = dl/deta, l'' (rows x thresholds)
        dl_da = d["lA"][:, None] * up + d["lB"][:, None] * lo
        dl1_da = -((d["lAA"] + d["lAB"])[:, None] * up + (d["lAB"] + d["lBB"])[:, None] * lo)
        dl2_da = (d["lAAA"] + 2 * d["lAAB"] + d["lABB"])[:, None] * up + (
            d["lAAB"] + 2 * d["lABB"] + d["lBBB"]
        )[:, None] * lo
        hi = (1 / h)[self.codes]
        # partials at fixed u; eta_theta = z u, eta_beta = x
        e_th = z * uj
        c1 = -2 * wt * l1  # d(-2 l)/d eta
        c3 = theta * theta * wt * z2 * w1 * hi  # d log h_j / d eta_i
        g_th = np.sum((c1 + c3) * e_th) + np.sum(2 * theta * S / h)
        g_b = (c1 + c3) @ X
        g_a = -2 * (wt @ dl_da) - theta * theta * ((wt * z2 * hi) @ dl2_da)
        # through u: d log h_j / d u_j times du_j/dpar = (dG_j/dpar) / h_j
        dT_du = theta**3 * self._sum(wt * z2 * z * w1) / h
        k = (dT_du / h)[self.codes]  # per row weight of dG_j's summands
        g_th += np.sum(dT_du / h * (self._sum(wt * z * l1) - theta * u * S))
        g_b += (-theta * k * wt * z * w) @ X
        g_a += (theta * k * wt * z) @ dl1_da
        # alpha -> extra
        J = np.zeros((self.nalpha, self.nalpha))
        J[:, 0] = 1.0
        for j in range(1, self.nalpha):
            J[j:, j] = np.exp(extra[j])
        return dev, np.concatenate([[g_th], g_b, J.T @ g_a])


def applicable(model) -> bool:
    """One scalar, non-multiple-membership term, Laplace (nagq 1)."""
    r = model.lmm.reterms
    return (
        model.family.name == "ordinal"
        and model.nagq == 1
        and len(r) == 1
        and r[0].q == 1
        and not r[0].mm
        and model.family.nextra >= 1
    )


def fit_ordinal_laplace(model, start: np.ndarray):
    """Minimize the Laplace deviance over ``(theta, beta, extra)`` by bounded L-BFGS (NLopt's
    ``LD_LBFGS``, theta >= 0) with the analytic gradient, from ``start = (theta, extra)`` and
    beta = 0; returns the estimates and an ``OptSummary`` (ftol_rel 1e-15: the logLik of clmm's
    wine fit to ~1e-11)."""
    import time

    import nlopt

    from mlmpipe.engine.optimize import OptSummary

    ol = OrdinalLaplace(model)
    nt = model.ntheta
    x0 = np.concatenate([start[:nt], np.zeros(model.p), start[nt:]])
    summ = OptSummary(method="L-BFGS (analytic Laplace gradient)", theta_start=x0.tolist())
    count = [0]

    def f(x, grad):
        count[0] += 1
        try:
            v, g = ol.deviance_grad(np.asarray(x))
        except (EstimationError, FloatingPointError):
            return np.inf
        if grad.size:
            grad[:] = g
        return v

    t0 = time.perf_counter()
    opt = nlopt.opt(nlopt.LD_LBFGS, x0.size)
    opt.set_min_objective(f)
    opt.set_lower_bounds(np.asarray(model.lower, float))
    opt.set_ftol_rel(1e-15)
    opt.set_xtol_abs(1e-10)
    opt.set_maxeval(2000)
    try:
        x = np.asarray(opt.optimize(x0), float)
    except nlopt.RoundoffLimited:  # at the rounding floor of the deviance: the best point
        x = np.asarray(opt.last_optimum_x() if hasattr(opt, "last_optimum_x") else x0, float)
    summ.seconds = time.perf_counter() - t0
    summ.feval = count[0]
    summ.theta_end = x.tolist()
    summ.objective = float(opt.last_optimum_value())
    summ.xtol = 1e-10
    model.us0 = [
        ol.modes(float(x[0]), ol.off + ol.X @ x[nt : nt + model.p], ol._alpha(x[nt + model.p :]))
    ]
    model.beta0 = x[nt : nt + model.p].copy()
    return x, summ


def gradient_hessian(model, par: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Analytic gradient and the Hessian by central differences of it (step ``h[i]``; forward
    where a bound is within ``h[i]``), symmetrised: 2k gradient evaluations instead of the
    ~2k^2 deviance evaluations of second differences, with O(h^2) error and no
    rounding amplification by 1/h^2."""
    ol = OrdinalLaplace(model)
    par = np.asarray(par, float)
    ol.modes(float(par[0]), ol.off + ol.X @ par[1 : 1 + ol.p], ol._alpha(par[1 + ol.p :]))
    u0 = ol.u.copy()

    def grad(x):
        ol.u = u0.copy()
        return ol.deviance_grad(x)[1]

    g0 = grad(par)
    k = par.size
    H = np.zeros((k, k))
    lower = np.asarray(model.lower, float)
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        if par[i] - h[i] >= lower[i]:
            H[i] = (grad(par + e) - grad(par - e)) / (2 * h[i])
        else:
            H[i] = (grad(par + e) - g0) / h[i]
    return g0, (H + H.T) / 2
