"""The plan's R-side residual structure and observation weights (``estimation.residual``,
``estimation.weights``, a model's own ``residual``), checked against the plan before any data are
read.

A residual structure is the pair of strings ``mlmpipe.fit`` takes (``correlation``:
``"ar1(~ occasion | subject)"`` / ``"car1(~ time | subject)"``; ``variance``: ``"ident(~ 1 |
stratum)"``), nlme's ``corAR1``, ``corCAR1`` and ``varIdent`` (Pinheiro & Bates 2000, secs.
5.2-5.3; fitted by :mod:`mlmpipe.engine.residual_fit`). A model entry's ``residual`` replaces the
plan-wide one for that model (``{}``, or both keys null: independent residuals), which is how a
growth sequence compares residual structures of one fixed and random part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlmpipe.engine.residual import ResidualSpec
from mlmpipe.errors import PlanError
from mlmpipe.plan.frozen import Section


@dataclass(frozen=True)
class ResidualChoice(Section):
    """``correlation`` and ``variance`` strings of a residual structure (None: not modelled)."""

    correlation: str | None = None
    variance: str | None = None

    @classmethod
    def from_config(cls, d: Mapping | None) -> ResidualChoice | None:
        if d is None:
            return None
        return cls(d.get("correlation"), d.get("variance"))

    @property
    def active(self) -> bool:
        return self.correlation is not None or self.variance is not None

    def spec(self, key: str) -> ResidualSpec:
        """The parsed structure; a string the engine cannot read is an error naming ``key``."""
        try:
            return ResidualSpec.parse(self.correlation, self.variance)
        except PlanError as exc:
            raise PlanError(f"{key}.{exc}") from None

    def columns(self) -> list[str]:
        """The data columns the structure reads (time / occasion, subject, variance strata)."""
        s = ResidualSpec.parse(self.correlation, self.variance)
        return [c for c in (s.time, s.subject, s.strata) if c is not None]

    def fit_kwargs(self) -> dict:
        """``correlation=`` / ``variance=`` of ``mlmpipe.fit`` (only those set)."""
        return {k: v for k, v in self.to_dict().items() if v is not None}


def check_residual(
    choice: ResidualChoice | None,
    key: str,
    family: str,
    level_ids: Sequence[tuple[str, str | None]],
    backend: str,
) -> None:
    """A residual structure must be parseable, on a gaussian model fitted by our engine, and group
    its correlation by the ID column of a clustering level of the plan (the subjects whose
    occasions are correlated)."""
    if choice is None or not choice.active:
        return
    spec = choice.spec(key)
    if family != "gaussian":
        raise PlanError(
            f"{key}: residual structures are not supported for a {family} GLMM (linear mixed "
            "models only); remove the key or use family gaussian"
        )
    if backend != "mlmpipe":
        raise PlanError(f"{key}: a residual structure needs backend 'mlmpipe'")
    if spec.subject is not None:
        ids = {i: name for name, i in level_ids[1:] if i is not None}
        if spec.subject not in ids:
            raise PlanError(
                f"{key}.correlation: grouping {spec.subject!r} is not the ID of a level of the "
                f"plan; allowed: {', '.join(ids) or '(none)'}"
            )


def check_weights(column: str | None, family: str, backend: str, known: Sequence[str]) -> None:
    """``estimation.weights`` names a column that is not a plan ID or the outcome, on a linear
    mixed model fitted by our engine."""
    if column is None:
        return
    if family != "gaussian":
        raise PlanError(f"estimation.weights: observation weights are for linear mixed models only "
                        f"(family {family!r})")  # fmt: skip
    if backend != "mlmpipe":
        raise PlanError("estimation.weights: observation weights need backend 'mlmpipe'")
    if column in known:
        raise PlanError(f"estimation.weights: {column!r} is a plan ID or the outcome")


def check_residual_steps(est, entries: Sequence, bootstrap: Mapping) -> None:
    """Steps that would ignore an R-side residual structure are one-line errors: Kenward-Roger
    (its adjusted covariance assumes independent residuals, so the engine has none for these
    fits) and the parametric bootstrap of a model with one (it simulates independent level-1
    residuals). Profile intervals skip such models with the reason (inference/profile.py); their
    residual parameters keep the Wald intervals of the fit record."""

    def choice(e):
        c = e.residual if e.residual is not None else est.residual
        return c is not None and c.active

    with_structure = [e.name for e in entries if choice(e)]
    if with_structure and est.df_method == "kenward_roger":
        raise PlanError(
            "estimation.df_method: kenward_roger is not available with a residual structure "
            f"(models {', '.join(with_structure)}); use satterthwaite"
        )
    model = bootstrap.get("model") or (entries[-1].name if entries else None)
    if int(bootstrap.get("resamples") or 0) > 0 and model in with_structure:
        raise PlanError(
            f"report.bootstrap.model: {model!r} has a residual structure; the parametric "
            "bootstrap simulates independent residuals, so choose a model without one or set "
            "report.bootstrap.resamples: 0"
        )
