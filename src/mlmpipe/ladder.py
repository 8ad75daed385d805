"""The preregistered decision ladder for estimation problems (plan key ``convergence:``).

When a fit does not converge or is singular (a variance estimated as 0 or a correlation as +-1;
Bates, Kliegl, Vasishth & Baayen 2015, "Parsimonious mixed models", arXiv:1506.04967), the plan
registers what happens next instead of leaving it to an ad-hoc search. The rungs, tried in the
registered order until a fit is free of the registered triggers:

``rescale``
    divide every continuous predictor of the formula by its SD (an exact reparameterization: the
    likelihood is unchanged, coefficients are per SD; the SDs are recorded).
``restart``
    restart from other starting values: the last estimate of theta moved away from the boundary
    (the default start added, i.e. +1/2 on each diagonal element of the relative covariance factor;
    :func:`mlmpipe.engine.optimize.restart_point`).
``optimizer``
    refit starting with another optimizer of the engine's chain (plan key
    ``convergence.optimizer``; the default is the one after BOBYQA,
    :func:`mlmpipe.engine.optimize.next_optimizer`).
``uncorrelated``
    drop the random-effect correlations: every ``(a + b | g)`` becomes ``(a + b || g)``.
``bayes_modal``
    refit the current model as a Bayesian modal fit: the posterior mode under a weakly informative
    prior on the random-effect covariances (plan key ``convergence.prior``, default ``blme``:
    blme's Wishart prior, whose density vanishes on the boundary, so the mode is never singular;
    Chung, Rabe-Hesketh, Dorie, Gelman & Liu 2013, Psychometrika 78(4); :mod:`mlmpipe.engine.priors`).
    The random part is kept as it is: registered before ``uncorrelated`` it keeps the full structure
    (variances and correlations) instead of losing a term. The estimator changes (penalised
    likelihood), so the rung is reported as such; it is skipped when the fits are already Bayesian
    modal (``estimation.method: bayes_modal``) or the backend is not ``mlmpipe``.
``drop_smallest_variance``
    remove the random effect with the smallest estimated variance from the model.

The first three rungs are numerical remedies and leave the model as registered; a numerical rung
(and ``bayes_modal``) that does not remove the problem is undone before the next rung (so estimates stay on the registered
scale unless rescaling was what worked). The last two simplify the random part and so change the
model (Barr, Levy, Scheepers & Tily 2013; Matuschek et al. 2017); they accumulate. The first fit
without a trigger is used. If no rung removes the problem, the model as registered is used and the
problem stays flagged: the plan's ``convergence.on_unresolved`` says whether that is a warning
(``warn``, the default: on the terminal and in the report's summary) or stops the run
(``error``; e.g. a random slope of a variable that is constant within its clusters is singular
whatever the ladder does). Each rung tried, its outcome and the model finally used are returned as a
list of decisions.

The ladder is a policy (:class:`Ladder`) that is given the fit function; the model changes are
operations on the parsed formula (:mod:`mlmpipe.formula.edit`), rendered to lme4 syntax for the
fit function and the record. It is a pure function of the data and the plan, so it is applied
identically to every imputation and every sensitivity specification.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from mlmpipe.api import fit as mlmpipe_fit
from mlmpipe.engine.optimize import OPTIMIZERS, next_optimizer, restart_point
from mlmpipe.engine.priors import resolve_prior
from mlmpipe.errors import EstimationError, PlanError
from mlmpipe.formula import FormulaSpec, parse_formula
from mlmpipe.formula.edit import drop_random_effect, uncorrelated
from mlmpipe.record import FitRecord

RUNGS = (
    "rescale",
    "restart",
    "optimizer",
    "uncorrelated",
    "bayes_modal",
    "drop_smallest_variance",
)
#: the rungs a plan gets when it lists none (``bayes_modal`` changes the estimator, so a plan opts in
#: by listing it; the default ladder and the hashes of existing plans stay as they were)
DEFAULT_RUNGS = ("rescale", "restart", "optimizer", "uncorrelated", "drop_smallest_variance")
TRIGGERS = ("nonconvergence", "singular")
ON_UNRESOLVED = ("warn", "error")
DEFAULT_OPTIMIZER = OPTIMIZERS[0]  # the engine's first optimizer (BOBYQA)
DEFAULT_CONVERGENCE = {
    "triggers": list(TRIGGERS),
    "rungs": list(DEFAULT_RUNGS),
    "optimizer": next_optimizer(DEFAULT_OPTIMIZER),
    "on_unresolved": "warn",
}
DEFAULT_RUNG_PRIOR = "blme"  # the prior of the bayes_modal rung when convergence.prior is absent
PLANNED = "as planned"

FitFunction = Callable[..., Any]
"""``fit(formula: str, data, **options)`` -> a result with ``to_dict()`` (``converged``,
``singular``, ``deviance``, ``warnings``, ``optimizer``: the ``OptSummary``, ``random``: the
variance components). ``options`` is empty, ``theta0=`` (restart), ``optimizer=`` or ``prior=``
(bayes_modal)."""


def continuous_predictors(formula: str | FormulaSpec, data: pd.DataFrame) -> list[str]:
    """Numeric, non-binary columns the formula uses as predictors (outcome and grouping factors
    excluded), in the data's column order."""
    spec = formula if isinstance(formula, FormulaSpec) else parse_formula(formula)
    names = spec.predictors
    out = []
    for c in data.columns:
        s = data[c]
        if (
            c in names
            and pd.api.types.is_numeric_dtype(s)
            and not pd.api.types.is_bool_dtype(s)
            and s.nunique(dropna=True) > 2
        ):
            out.append(c)
    return out


@dataclass
class LadderResult:
    """The result used, the formula it belongs to, and every decision taken on the way."""

    result: Any
    formula: str
    rung: str
    resolved: bool
    rescaled: dict[str, float] = field(default_factory=dict)
    decisions: list[dict] = field(default_factory=list)
    caught: list[str] = field(default_factory=list)  # warnings raised while fitting ``result``
    spec: FormulaSpec | None = None  # the parsed formula of ``result``

    def to_dict(self) -> dict:
        return {
            "used_rung": self.rung,
            "formula": self.formula,
            "resolved": self.resolved,
            "rescaled": self.rescaled,
            "decisions": self.decisions,
        }


def check_convergence_spec(spec: dict | None) -> dict:
    """Fill defaults of the ``convergence`` plan section and check its values (one-line errors)."""
    out = {**DEFAULT_CONVERGENCE, **(spec or {})}
    for t in out["triggers"]:
        if t not in TRIGGERS:
            raise PlanError(
                f"convergence.triggers: {t!r} is not allowed; allowed values: {', '.join(TRIGGERS)}"
            )
    for r in out["rungs"]:
        if r not in RUNGS:
            raise PlanError(
                f"convergence.rungs: {r!r} is not allowed; allowed values: {', '.join(RUNGS)}"
            )
    if out.get("prior") is not None:
        resolve_prior(out["prior"])  # one-line PlanError on a malformed prior
    if out["on_unresolved"] not in ON_UNRESOLVED:
        raise PlanError(
            f"convergence.on_unresolved: {out['on_unresolved']!r} is not allowed; allowed values: "
            f"{', '.join(ON_UNRESOLVED)}"
        )
    return out


def unresolved_message(ladder: dict | None) -> str | None:
    """One line for a fit the ladder left unresolved (``LadderResult.to_dict()``), else None."""
    if not ladder or ladder.get("resolved", True):
        return None
    decisions = ladder.get("decisions", [])
    problem = decisions[0].get("outcome", "a registered trigger") if decisions else "unresolved"
    tried = [d["rung"] for d in decisions[1:] if d.get("rung") not in (PLANNED, "unresolved")]
    return (
        f"the convergence ladder leaves {ladder.get('formula')} unresolved ({problem} after "
        f"{', '.join(tried) if tried else 'no rung'}); the model as registered is kept and "
        "flagged (convergence.on_unresolved: warn; set it to error to stop the run instead)"
    )


def problems(d: dict, triggers) -> list[str]:
    """The registered triggers a fit (``to_dict()``) shows."""
    out = []
    if "nonconvergence" in triggers and not d.get("converged", True):
        out.append("not converged")
    if "singular" in triggers and d.get("singular", False):
        out.append("singular")
    return out


def _record(rung: str, action: str, formula: str, opts: dict, res, triggers) -> dict:
    d = res.to_dict()
    found = problems(d, triggers)
    return {
        "rung": rung,
        "action": action,
        "formula": formula,
        "optimizer": opts.get("optimizer", DEFAULT_OPTIMIZER),
        "converged": bool(d.get("converged", True)),
        "singular": bool(d.get("singular", False)),
        "deviance": d.get("deviance"),
        "warnings": list(d.get("warnings", [])),
        "outcome": "ok" if not found else "; ".join(found),
        **({"prior": _describe_prior(opts["prior"])} if "prior" in opts else {}),
    }


def _describe_prior(prior: Any) -> str:
    """The prior of a bayes_modal decision as the plan gave it (``blme`` or its JSON)."""
    return prior if isinstance(prior, str) else json.dumps(prior, sort_keys=True, default=str)


def _skipped(rung: str, why: str) -> dict:
    return {"rung": rung, "action": "skipped", "outcome": f"not applicable: {why}"}


@dataclass(frozen=True)
class _Step:
    """What a rung does: the formula and data to fit, the fit options, or why it is skipped."""

    spec: FormulaSpec
    data: pd.DataFrame
    opts: dict = field(default_factory=dict)
    action: str = ""
    rescaled: dict = field(default_factory=dict)
    skip: str | None = None


@dataclass(frozen=True)
class Ladder:
    """The registered ladder (plan section ``convergence``): triggers, rungs in order, and the
    optimizer of the ``optimizer`` rung."""

    triggers: tuple[str, ...] = TRIGGERS
    rungs: tuple[str, ...] = RUNGS
    optimizer: str = DEFAULT_CONVERGENCE["optimizer"]
    on_unresolved: str = "warn"
    prior: Any = DEFAULT_RUNG_PRIOR  # the prior of the bayes_modal rung

    @classmethod
    def from_plan(cls, convergence: dict | None) -> Ladder:
        spec = check_convergence_spec(convergence)
        return cls(
            tuple(spec["triggers"]),
            tuple(spec["rungs"]),
            spec["optimizer"],
            spec["on_unresolved"],
            DEFAULT_RUNG_PRIOR if spec.get("prior") is None else spec["prior"],
        )

    def run(
        self,
        fit: FitFunction,
        formula: str | FormulaSpec,
        data: pd.DataFrame,
        numerical: str | None = None,
        modal: str | None = None,
    ) -> LadderResult:
        """Fit ``formula`` with ``fit``; on a registered trigger climb the rungs (module docstring).

        ``numerical``: None when ``fit`` takes ``theta0=``/``optimizer=``, else why it does not
        (the ``restart`` and ``optimizer`` rungs are then skipped with that reason). ``modal``:
        None when ``fit`` takes ``prior=``, else why the ``bayes_modal`` rung is skipped. Exceptions of
        the planned fit propagate (the planned model cannot be estimated); a rung whose fit fails
        is recorded as failed and the ladder goes on.
        """
        planned_spec = formula if isinstance(formula, FormulaSpec) else parse_formula(formula)
        planned_formula = planned_spec.formula
        triggers = self.triggers
        caught: dict[int, list[str]] = {}

        def run(spec: FormulaSpec, df: pd.DataFrame, opts: dict):
            with warnings.catch_warnings(record=True) as ws:
                warnings.simplefilter("always")  # recorded per fit, not raised once per rung
                res = fit(spec.formula, df, **opts)
            caught[id(res)] = [
                f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in ws
            ]
            return res

        planned = run(planned_spec, data, {})
        first = _record(
            PLANNED, "fit the model as registered", planned_formula, {}, planned, triggers
        )
        decisions = [first]
        if first["outcome"] == "ok" or not self.rungs:
            ok = first["outcome"] == "ok"
            if not ok:
                self._stop_if_registered(planned_formula, first["outcome"], [])
            return LadderResult(
                planned,
                planned_formula,
                PLANNED,
                ok,
                {},
                decisions,
                caught[id(planned)],
                planned_spec,
            )

        cur, last = planned_spec, planned
        start0 = np.asarray(planned.to_dict()["optimizer"].get("theta_start", []), float)
        for rung in self.rungs:
            step = self._step(rung, cur, data, last, start0, numerical, modal)
            if step.skip:
                decisions.append(_skipped(rung, step.skip))
                continue
            cur = step.spec  # model changes accumulate; numerical and bayes_modal rungs are undone
            try:
                res = run(cur, step.data, step.opts)
            except Exception as exc:  # a rung that cannot be estimated is recorded, not fatal
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                decisions.append(
                    {
                        "rung": rung,
                        "action": step.action,
                        "formula": cur.formula,
                        "outcome": f"failed: {msg}",
                    }
                )
                continue
            rec = _record(rung, step.action, cur.formula, step.opts, res, triggers)
            decisions.append(rec)
            if rung not in ("rescale", "bayes_modal"):  # later rungs use unpenalised, unscaled fits
                last = res
            if rec["outcome"] == "ok":
                return LadderResult(
                    res, cur.formula, rung, True, step.rescaled, decisions, caught[id(res)], cur
                )
        decisions.append(
            {
                "rung": "unresolved",
                "action": "no rung removed the problem: the model as registered is used",
                "formula": planned_formula,
                "outcome": first["outcome"],
            }
        )
        self._stop_if_registered(
            planned_formula, first["outcome"], [d["rung"] for d in decisions[1:-1]]
        )
        return LadderResult(
            planned,
            planned_formula,
            PLANNED,
            False,
            {},
            decisions,
            caught[id(planned)],
            planned_spec,
        )

    def _stop_if_registered(self, formula: str, problem: str, tried: list[str]) -> None:
        """``convergence.on_unresolved: error``: an unresolved fit stops the run (one line)."""
        if self.on_unresolved == "error":
            raise EstimationError(
                f"the convergence ladder leaves {formula} unresolved ({problem} after "
                f"{', '.join(tried) if tried else 'no rung'}); convergence.on_unresolved: error "
                "stops the run"
            )

    def _step(
        self,
        rung: str,
        spec: FormulaSpec,
        data: pd.DataFrame,
        last: Any,
        start0: np.ndarray,
        numerical: str | None,
        modal: str | None = None,
    ) -> _Step:
        if rung == "rescale":
            cols = continuous_predictors(spec, data)
            if not cols:
                return _Step(spec, data, skip="no continuous predictor in the formula")
            scaled, rescaled = data.copy(), {}
            for c in cols:
                sd = float(scaled[c].std())
                if sd > 0:
                    rescaled[c] = sd
                    scaled[c] = scaled[c] / sd
            action = "divide by SD: " + ", ".join(f"{c} ({s:.4g})" for c, s in rescaled.items())
            return _Step(spec, scaled, action=action, rescaled=rescaled)
        if rung in ("restart", "optimizer") and numerical is not None:
            return _Step(spec, data, skip=numerical)
        if rung == "restart":
            end = np.asarray(last.to_dict()["optimizer"].get("theta_end", []), float)
            if end.size != start0.size:
                return _Step(spec, data, skip="no previous estimate of this model to restart from")
            action = "restart from the last estimate moved away from the boundary"
            return _Step(spec, data, {"theta0": restart_point(end, start0)}, action)
        if rung == "optimizer":
            action = f"refit with optimizer {self.optimizer}"
            return _Step(spec, data, {"optimizer": self.optimizer}, action)
        if rung == "bayes_modal":
            if modal is not None:
                return _Step(spec, data, skip=modal)
            action = (
                f"refit as a Bayesian modal fit (posterior mode, prior {_describe_prior(self.prior)} "
                "on the random-effect covariances; random part kept)"
            )
            return _Step(spec, data, {"prior": self.prior}, action)
        if rung == "uncorrelated":
            new = uncorrelated(spec)
            if new is None:
                return _Step(spec, data, skip="no correlated random effects")
            return _Step(new, data, action="drop random-effect correlations (| -> ||)")
        rows = [
            r
            for r in last.to_dict()["random"]
            if r.get("term2") is None and r.get("group") != "Residual"
        ]
        r = min(rows, key=lambda r: r["vcov"]) if rows else None
        new = drop_random_effect(spec, r["group"], r["term1"], data.columns) if r else None
        if new is None:
            return _Step(spec, data, skip="no random effect can be dropped without leaving none")
        action = f"drop {r['term1']} | {r['group']} (variance {r['vcov']:.4g})"
        return _Step(new, data, action=action)


def fit_with_ladder(
    formula: str | FormulaSpec,
    data: pd.DataFrame,
    reml: bool = True,
    backend: str = "mlmpipe",
    convergence: dict | None = None,
    fit_kwargs: dict | None = None,
    fit: FitFunction | None = None,
) -> LadderResult:
    """The plan's registered ladder (``convergence``) run with ``fit``; by default ``fit`` is
    :func:`mlmpipe.fit` with ``reml``, ``backend`` and ``fit_kwargs`` (the numerical rungs need
    ``backend="mlmpipe"``)."""
    if fit is None:
        fit = partial(mlmpipe_fit, reml=reml, backend=backend, **dict(fit_kwargs or {}))
    numerical = None if backend == "mlmpipe" else f"not available with backend {backend!r}"
    modal = numerical
    if (fit_kwargs or {}).get("prior") is not None:
        modal = "the fits are already Bayesian modal (estimation.method: bayes_modal)"
    return Ladder.from_plan(convergence).run(fit, formula, data, numerical, modal)


def decision_log(fits: dict[str, FitRecord]) -> dict:
    """Collect the ladder of every fit artifact (path ``.../imp{m}.json`` -> fit) for the report.

    ``summary`` counts the fits per rung used; ``fits`` keeps each fit's decisions;
    ``inconsistent`` lists model x estimator whose imputations ended at different models (their
    pooled estimates then combine different random parts and must not be read as one model);
    ``unresolved`` lists the fits no rung freed of their problem (``convergence.on_unresolved:
    warn`` kept them, flagged).
    """
    rows, summary = [], {}
    for path, f in fits.items():
        imp = re.search(r"imp(\d+)\.json$", str(path))
        lad = f.ladder or {}
        used = lad.get("used_rung", PLANNED)
        key = used if lad.get("resolved", True) else "unresolved"
        summary[key] = summary.get(key, 0) + 1
        rows.append(
            {
                "model": f.model,
                "estimator": f.estimator,
                "imputation": int(imp.group(1)) if imp else None,
                "planned_formula": f.planned_formula or f.formula_text,
                "formula": lad.get("formula", f.formula_text),
                "used_rung": used,
                "resolved": lad.get("resolved", True),
                "decisions": lad.get("decisions", []),
            }
        )
    formulas: dict[tuple, set] = {}
    for r in rows:
        formulas.setdefault((r["model"], r["estimator"]), set()).add(r["formula"])
    inconsistent = [
        {"model": m, "estimator": e, "formulas": sorted(fs)}
        for (m, e), fs in formulas.items()
        if len(fs) > 1
    ]
    unresolved = [
        {
            "model": r["model"],
            "estimator": r["estimator"],
            "imputation": r["imputation"],
            "formula": r["formula"],
            "problem": r["decisions"][0].get("outcome") if r["decisions"] else None,
        }
        for r in rows
        if not r["resolved"]
    ]
    return {
        "summary": summary,
        "fits": rows,
        "inconsistent": inconsistent,
        "unresolved": unresolved,
    }
