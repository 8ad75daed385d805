"""The ``survey:`` section of a plan: sampling weights per level, level-1 weight scaling, and the
plausible values of the outcome (``outcome.plausible_values``) and of predictors.

Large-scale assessments (PISA, TIMSS, PIRLS, NAEP) sample schools with probability proportional to
size and students within schools. A weighted multilevel model needs the school weight ``w_j`` and
the student weight *conditional* on the school, ``w_i|j`` (Pfeffermann, Skinner, Holmes, Goldstein
& Rasbash 1998, JRSS-B 60(1)). A data file usually carries the *total* student weight
``w_ij = w_i|j * w_j``; ``level1_weight: total`` says so and the conditional weight is derived by
dividing by the school weight.

Level-1 weights are scaled within each cluster before fitting (Pfeffermann et al. 1998; Asparouhov
2006, Communications in Statistics 35(3)): ``none`` (as given), ``size`` (sum to the cluster size
n_j; Stata ``pwscale(size)``, Mplus "cluster") or ``effective`` (sum to Kish's effective cluster
size (sum w)^2 / sum w^2; Stata ``pwscale(effective)``, Mplus "ecluster").

Plausible values (Mislevy 1991; von Davier, Gonzalez & Mislevy 2009) are multiple imputations of
the latent proficiency: every model is fitted once per plausible value (a plan variant
``Plan.with_choices(plausible_value=k)``) and the fits are pooled by Rubin's rules, with the
nested-imputation rules when covariates are imputed too (:mod:`mlmpipe.missing.nested`).

Pseudo-maximum likelihood has no REML analogue under weights at level 2 (Rabe-Hesketh & Skrondal
2006, JRSS-A 169(4)): a survey plan is estimated by ML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlmpipe.errors import PlanError
from mlmpipe.plan.frozen import FrozenMap, Section, freeze

if TYPE_CHECKING:
    from mlmpipe.plan.sections import Level

SCALINGS = ("none", "size", "effective")
LEVEL1_WEIGHTS = ("conditional", "total")
#: Options of the weights multiverse dimension: a scaling, or no weights at all.
WEIGHT_CHOICES = (*SCALINGS, "unweighted")


@dataclass(frozen=True)
class SurveySection(Section):
    """``survey``: weight column per level (level name -> column), whether the level-1 column is
    the conditional or the total weight, the level-1 scaling, and plausible-value columns of
    predictors (predictor name -> columns). ``outcome_pvs`` comes from ``outcome.plausible_values``.
    """

    weights: FrozenMap[str, str]
    level1_weight: str
    scaling: str
    predictor_pvs: FrozenMap[str, tuple[str, ...]]
    outcome_pvs: tuple[str, ...] = ()
    #: ``outcome.name`` as written (None: derived from the plausible-value columns)
    outcome_name: str | None = None

    @property
    def weighted(self) -> bool:
        return bool(self.weights)

    @property
    def n_plausible_values(self) -> int:
        """Number of plausible values (0: the plan has none)."""
        if self.outcome_pvs:
            return len(self.outcome_pvs)
        return len(next(iter(self.predictor_pvs.values()))) if self.predictor_pvs else 0

    def pv_columns(self, k: int) -> dict[str, str]:
        """Variable -> the column holding its ``k``-th plausible value (k = 1..n)."""
        out = {name: cols[k - 1] for name, cols in self.predictor_pvs.items()}
        if self.outcome_pvs:
            out["__outcome__"] = self.outcome_pvs[k - 1]
        return out

    @property
    def columns(self) -> tuple[str, ...]:
        """Every data column the section names (weights, then plausible values)."""
        cols = list(self.weights.values()) + list(self.outcome_pvs)
        for pvs in self.predictor_pvs.values():
            cols.extend(pvs)
        return tuple(dict.fromkeys(cols))

    def validate_entry(self, outcome: str, levels: tuple[Level, ...]) -> dict:
        """What the validate step checks and keeps (JSON): the weight columns per level, the
        plausible-value columns per analysed column and their plan keys."""
        pvs = {name: list(cols) for name, cols in self.predictor_pvs.items()}
        keys = {name: f"survey.plausible_values.{name}" for name in pvs}
        if self.outcome_pvs:
            pvs[outcome] = list(self.outcome_pvs)
            keys[outcome] = "outcome.plausible_values"
        out = {"weights": dict(self.weights), "plausible_values": pvs, "pv_keys": keys}
        if self.level1_weight == "total":
            out |= {
                "level1_weight": "total",
                "level1_level": levels[0].name,
                "level2_level": levels[1].name,
            }
        return out

    def outcome_config(self) -> dict:
        """The ``outcome`` keys this section holds (``name`` only as written)."""
        out: dict = {"plausible_values": list(self.outcome_pvs)} if self.outcome_pvs else {}
        return out | ({"name": self.outcome_name} if self.outcome_name else {})

    def to_config(self) -> dict:
        return {
            "weights": dict(self.weights),
            "level1_weight": self.level1_weight,
            "scaling": self.scaling,
            "plausible_values": {k: list(v) for k, v in self.predictor_pvs.items()},
        }


def survey_from_config(
    survey: dict | None, outcome: dict, levels: tuple[Level, ...]
) -> SurveySection | None:
    """The checked ``survey`` section (None: the plan has neither weights nor plausible values).

    Errors name the key: a weight for a level the plan does not have, a plausible-value list of a
    variable that is not a predictor, lists of different lengths, a column used twice.
    """
    outcome_pvs = tuple(outcome.get("plausible_values") or ())
    if survey is None and not outcome_pvs:
        return None
    from_section = survey is not None
    survey = survey or {}
    names = [lv.name for lv in levels]
    weights = dict(survey.get("weights") or {})
    for lv in weights:
        if lv not in names:
            raise PlanError(
                f"survey.weights.{lv}: the plan has no level {lv!r}; levels are {names}"
            )
    level1 = survey.get("level1_weight", "conditional")
    if level1 == "total" and (names[0] not in weights or len(weights) < 2):
        raise PlanError(
            "survey.level1_weight: 'total' divides the level-1 weight by the weight of the level "
            f"above; give both survey.weights.{names[0]} and survey.weights.{names[1]}"
        )
    if level1 == "total" and names[1] not in weights:
        raise PlanError(
            f"survey.level1_weight: 'total' needs survey.weights.{names[1]} (the weight it is "
            "divided by)"
        )
    scaling = survey.get("scaling", "size")
    predictors = {p.name for lv in levels for p in lv.predictors}
    pvs = {k: tuple(v) for k, v in (survey.get("plausible_values") or {}).items()}
    for name in pvs:
        if name not in predictors:
            raise PlanError(
                f"survey.plausible_values.{name}: {name!r} is not a predictor of the plan; "
                f"allowed: {sorted(predictors)}"
            )
    lengths = {len(v) for v in pvs.values()} | ({len(outcome_pvs)} if outcome_pvs else set())
    if len(lengths) > 1:
        raise PlanError(
            "survey.plausible_values: every variable needs the same number of plausible values "
            f"(the k-th of each belong together); got {sorted(lengths)}"
        )
    seen: dict[str, str] = {}
    keyed = [(f"outcome.plausible_values[{i}]", c) for i, c in enumerate(outcome_pvs)]
    keyed += [
        (f"survey.plausible_values.{n}[{i}]", c) for n, v in pvs.items() for i, c in enumerate(v)
    ]
    keyed += [(f"survey.weights.{lv}", c) for lv, c in weights.items()]
    for key, col in keyed:
        if col in seen:
            raise PlanError(f"{key}: column {col!r} is already named by {seen[col]}")
        seen[col] = key
    declared = predictors | {lv.id for lv in levels if lv.id}
    for key, col in keyed:
        if col in declared:
            raise PlanError(
                f"{key}: column {col!r} is also a predictor or ID of the plan; name the "
                "plausible-value and weight columns only here"
            )
    section = SurveySection(
        freeze(weights), level1, scaling, freeze(pvs), outcome_pvs, outcome.get("name")
    )
    return section if from_section or outcome_pvs else None


def outcome_column(outcome: dict) -> str:
    """The analysed outcome column: ``outcome.name``, or with plausible values and no name the
    common stem of their columns (``PV1MATH..PV5MATH`` -> ``PVMATH``), into which the pipeline
    copies the k-th plausible value of each variant."""
    pvs = outcome.get("plausible_values") or ()
    if outcome.get("name"):
        return outcome["name"]
    if not pvs:
        raise PlanError("outcome: missing required key 'name' (or give outcome.plausible_values)")
    stem = "".join(ch for ch in pvs[0] if not ch.isdigit()).strip("_") or "pv_outcome"
    return stem if stem not in pvs else f"{stem}_pv"


def check_survey_estimation(survey: SurveySection | None, estimators: tuple[str, ...]) -> None:
    """REML is not defined for pseudo-maximum likelihood with weights (Rabe-Hesketh & Skrondal
    2006): a weighted plan that asks for it is told so."""
    if survey is not None and survey.weighted and "reml" in estimators:
        raise PlanError(
            "estimation.estimators: REML is not defined with survey weights (pseudo-maximum "
            "likelihood, Rabe-Hesketh & Skrondal 2006); use estimators: [ml]"
        )


def fit_weights(survey: SurveySection | None, levels: tuple[Level, ...]) -> dict | None:
    """The ``sampling_weights`` / ``scaling`` arguments of ``mlmpipe.fit`` for this plan: the key
    ``level1`` names the row weight, every other key the ID column (grouping factor) of its level.
    None: unweighted."""
    if survey is None or not survey.weighted:
        return None
    ids = {lv.name: lv.id for lv in levels}
    sw = {}
    for lv, col in survey.weights.items():
        key = "level1" if lv == levels[0].name else ids[lv]
        sw[key] = col
    return {
        "sampling_weights": sw,
        "scaling": survey.scaling,
        "level1_weight": survey.level1_weight,
        "level2_weight_column": survey.weights.get(levels[1].name),
    }
