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
    (the default start added, i.e. +1/2 on each diagonal element of the relative covariance factor).
``optimizer``
    refit with another optimizer (plan key ``convergence.optimizer``; BOBYQA is the default one).
``uncorrelated``
    drop the random-effect correlations: every ``(a + b | g)`` becomes ``(a + b || g)``.
``drop_smallest_variance``
    remove the random effect with the smallest estimated variance from the model.

The first three rungs are numerical remedies and leave the model as registered; a numerical rung
that does not remove the problem is undone before the next rung (so estimates stay on the registered
scale unless rescaling was what worked). The last two simplify the random part and so change the
model (Barr, Levy, Scheepers & Tily 2013; Matuschek et al. 2017); they accumulate. The first fit
without a trigger is used. If no rung removes the problem, the model as registered is used and the
problem stays flagged. Each rung tried, its outcome and the model finally used are returned as a
list of decisions.

The ladder is a pure function of the data and the plan, so it is applied identically to every
imputation and every sensitivity specification.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlmpipe.errors import PlanError
from mlmpipe.record import FitRecord

RUNGS = ("rescale", "restart", "optimizer", "uncorrelated", "drop_smallest_variance")
TRIGGERS = ("nonconvergence", "singular")
DEFAULT_CONVERGENCE = {"triggers": list(TRIGGERS), "rungs": list(RUNGS), "optimizer": "cobyqa"}
PLANNED = "as planned"


# --------------------------------------------------------------------------- formula surgery


@dataclass
class Bar:
    """One random-effects term ``(lhs | group)`` or ``(lhs || group)`` of a formula."""

    text: str
    terms: list[str]
    double: bool
    group: str

    def render(self) -> str:
        return f"({' + '.join(self.terms)} {'||' if self.double else '|'} {self.group})"


def random_bars(formula: str) -> list[Bar]:
    """The top-level parenthesized random-effects terms of an lme4 formula, in order."""
    bars, depth, start = [], 0, None
    for i, ch in enumerate(formula):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and start is not None:
                text = formula[start : i + 1]
                inner = text[1:-1]
                if "|" in inner:
                    double = "||" in inner
                    lhs, group = inner.split("||" if double else "|", 1)
                    terms = [t.strip() for t in lhs.split("+") if t.strip()]
                    bars.append(Bar(text, terms, double, group.strip()))
    return bars


def _replace_bar(formula: str, bar: Bar, new: str | None) -> str:
    if new is not None:
        return formula.replace(bar.text, new, 1)
    out = re.sub(r"\s*\+\s*" + re.escape(bar.text), "", formula, count=1)
    if out == formula:
        out = re.sub(re.escape(bar.text) + r"\s*\+\s*", "", formula, count=1)
    return out


def _has_intercept(terms: list[str]) -> bool:
    return "0" not in terms and "-1" not in terms and "- 1" not in terms


def uncorrelated(formula: str) -> str | None:
    """``|`` -> ``||`` in every bar with more than one effect; None when there is none."""
    out, changed = formula, False
    for bar in random_bars(formula):
        n_effects = len([t for t in bar.terms if t not in ("0", "1")]) + _has_intercept(bar.terms)
        if not bar.double and n_effects > 1:
            out = out.replace(bar.text, Bar("", bar.terms, True, bar.group).render(), 1)
            changed = True
    return out if changed else None


def drop_effect(formula: str, group: str, effect: str, data: pd.DataFrame) -> str | None:
    """Remove the random effect named ``effect`` (a ``ranef`` column name: ``(Intercept)``, a
    variable, or a factor dummy such as ``minrtyYes``) of grouping factor ``group``.

    Returns None when the effect is not found or no random effect would be left.
    """
    bars = random_bars(formula)
    group = re.sub(r"\.\d+$", "", group)  # lme4 names the k-th || term of g "g.k"
    for bar in [b for b in bars if b.group == group] + [b for b in bars if b.group != group]:
        terms = list(bar.terms)
        if effect == "(Intercept)":
            if not _has_intercept(terms):
                continue
            terms = [t for t in terms if t != "1"] + ["0"]
        else:
            hit = next((t for t in terms if t == effect), None)
            if hit is None:  # a factor's dummy: drop the whole factor term
                hit = next(
                    (
                        t
                        for t in terms
                        if t in data.columns and effect.startswith(t) and effect != t
                    ),
                    None,
                )
            if hit is None:
                continue
            terms.remove(hit)
        effects = [t for t in terms if t not in ("0", "1")]
        if not effects and not _has_intercept(terms):
            new = None
        else:
            n_left = len(effects) + _has_intercept(terms)
            double = bar.double and n_left > 1
            new = Bar("", terms if effects else ["1"], double, bar.group).render()
        out = _replace_bar(formula, bar, new)
        return out if random_bars(out) else None
    return None


def continuous_predictors(formula: str, data: pd.DataFrame) -> list[str]:
    """Numeric, non-binary columns named on the right-hand side (outcome and groups excluded)."""
    lhs, rhs = formula.split("~", 1)
    groups = {bar.group for bar in random_bars(formula)}
    names = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", rhs)) - groups - {lhs.strip()}
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


# --------------------------------------------------------------------------- the ladder


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
    return out


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
        "optimizer": opts.get("optimizer", "bobyqa"),
        "converged": bool(d.get("converged", True)),
        "singular": bool(d.get("singular", False)),
        "deviance": d.get("deviance"),
        "warnings": list(d.get("warnings", [])),
        "outcome": "ok" if not found else "; ".join(found),
    }


def fit_with_ladder(
    formula: str,
    data: pd.DataFrame,
    reml: bool = True,
    backend: str = "mlmpipe",
    convergence: dict | None = None,
    fit_kwargs: dict | None = None,
) -> LadderResult:
    """Fit ``formula``; on a registered trigger climb the registered rungs (module docstring).

    Exceptions of the planned fit propagate (the planned model cannot be estimated); a rung whose
    fit fails is recorded as failed and the ladder goes on.
    """
    import mlmpipe

    spec = check_convergence_spec(convergence)
    triggers, extra = spec["triggers"], dict(fit_kwargs or {})

    caught: dict[int, list[str]] = {}

    def run(f: str, df: pd.DataFrame, opts: dict):
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")  # recorded per fit, not raised once per rung
            res = mlmpipe.fit(f, df, reml=reml, backend=backend, **extra, **opts)
        caught[id(res)] = [f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in ws]
        return res

    planned = run(formula, data, {})
    decisions = [_record(PLANNED, "fit the model as registered", formula, {}, planned, triggers)]
    if decisions[0]["outcome"] == "ok" or not spec["rungs"]:
        ok = decisions[0]["outcome"] == "ok"
        return LadderResult(planned, formula, PLANNED, ok, {}, decisions, caught[id(planned)])

    cur_formula, last = formula, planned
    start0 = np.asarray(planned.to_dict()["optimizer"].get("theta_start", []), float)
    for rung in spec["rungs"]:
        skip, cur_data, opts, rescaled = None, data, {}, {}  # numerical rungs are undone
        if rung == "rescale":
            cols = continuous_predictors(cur_formula, data)
            if not cols:
                skip = "no continuous predictor in the formula"
            else:
                cur_data = data.copy()
                for c in cols:
                    sd = float(cur_data[c].std())
                    if sd > 0:
                        rescaled[c] = sd
                        cur_data[c] = cur_data[c] / sd
                action = "divide by SD: " + ", ".join(f"{c} ({s:.4g})" for c, s in rescaled.items())
        elif rung in ("restart", "optimizer") and backend != "mlmpipe":
            skip = f"not available with backend {backend!r}"
        elif rung == "restart":
            end = np.asarray(last.to_dict()["optimizer"].get("theta_end", []), float)
            if end.size != start0.size:
                skip = "no previous estimate of this model to restart from"
            else:
                opts = {"theta0": end + 0.5 * start0}
                action = "restart from the last estimate moved away from the boundary"
        elif rung == "optimizer":
            opts = {"optimizer": spec["optimizer"]}
            action = f"refit with optimizer {spec['optimizer']}"
        elif rung == "uncorrelated":
            new = uncorrelated(cur_formula)
            if new is None:
                skip = "no correlated random effects"
            else:
                cur_formula = new
                action = "drop random-effect correlations (| -> ||)"
        elif rung == "drop_smallest_variance":
            rows = [
                r
                for r in last.to_dict()["random"]
                if r.get("term2") is None and r.get("group") != "Residual"
            ]
            r = min(rows, key=lambda r: r["vcov"]) if rows else None
            new = drop_effect(cur_formula, r["group"], r["term1"], cur_data) if r else None
            if new is None:
                skip = "no random effect can be dropped without leaving none"
            else:
                cur_formula = new
                action = f"drop {r['term1']} | {r['group']} (variance {r['vcov']:.4g})"
        if skip:
            decisions.append(
                {"rung": rung, "action": "skipped", "outcome": f"not applicable: {skip}"}
            )
            continue
        try:
            res = run(cur_formula, cur_data, opts)
        except Exception as exc:  # a rung that cannot be estimated is recorded, not fatal
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            decisions.append(
                {
                    "rung": rung,
                    "action": action,
                    "formula": cur_formula,
                    "outcome": f"failed: {first}",
                }
            )
            continue
        rec = _record(rung, action, cur_formula, opts, res, triggers)
        decisions.append(rec)
        if rung != "rescale":  # variances and estimates below refer to the registered scale
            last = res
        if rec["outcome"] == "ok":
            return LadderResult(res, cur_formula, rung, True, rescaled, decisions, caught[id(res)])
    decisions.append(
        {
            "rung": "unresolved",
            "action": "no rung removed the problem: the model as registered is used",
            "formula": formula,
            "outcome": decisions[0]["outcome"],
        }
    )
    return LadderResult(planned, formula, PLANNED, False, {}, decisions, caught[id(planned)])


def decision_log(fits: dict[str, FitRecord]) -> dict:
    """Collect the ladder of every fit artifact (path ``.../imp{m}.json`` -> fit) for the report.

    ``summary`` counts the fits per rung used; ``fits`` keeps each fit's decisions;
    ``inconsistent`` lists model x estimator whose imputations ended at different models (their
    pooled estimates then combine different random parts and must not be read as one model).
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
    return {"summary": summary, "fits": rows, "inconsistent": inconsistent}
