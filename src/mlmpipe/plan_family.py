"""Plan checks of the response family (``estimation.family`` / ``estimation.link``).

The links each family allows are the engine's (``mlmpipe.engine.family.make_family``); a plan that
names another one fails when the plan is read, not after the data were validated and imputed.
The data side (an outcome that cannot be ordinal) is checked at validation:
``mlmpipe.data.ordinal``.
"""

from __future__ import annotations

from mlmpipe.engine.family import make_family
from mlmpipe.errors import EstimationError, PlanError


def check_family(family: str, link: str | None) -> None:
    """One-line PlanError naming ``estimation.link`` when the family does not allow the link."""
    if family == "gaussian":
        if link not in (None, "identity"):
            raise PlanError(
                f"estimation.link: {link!r} is not available for family 'gaussian' (identity "
                "link only); set estimation.family for a binary, count or ordinal outcome"
            )
        return
    try:
        make_family(family, link)
    except EstimationError as exc:
        raise PlanError(f"estimation.{exc}") from None
