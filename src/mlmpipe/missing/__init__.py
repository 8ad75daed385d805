"""Missing data: diagnostics, the handling methods (listwise now; multiple imputation slots in
beside it as another method of :func:`handle_missing`), and pooling of fits across imputations."""

from mlmpipe.missing.diagnostics import missing_report
from mlmpipe.missing.handle import METHODS, handle_missing
from mlmpipe.missing.pool import pool_fits

__all__ = ["METHODS", "handle_missing", "missing_report", "pool_fits"]
