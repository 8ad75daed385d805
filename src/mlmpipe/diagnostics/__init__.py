"""Model diagnostics: residuals and standardized conditional modes at each level, outliers,
heteroscedasticity across clusters, and cluster influence from leave-one-cluster-out refits;
randomized quantile (GLMM) and surrogate (ordinal) residuals."""

from mlmpipe.diagnostics.clusters import standardized_modes
from mlmpipe.diagnostics.glmm_residuals import (
    glmm_residual_diagnostics,
    glmm_residuals,
    residual_summary_line,
)
from mlmpipe.diagnostics.influence import flagged_clusters, influence_table, leave_one_cluster_out
from mlmpipe.diagnostics.quantile import randomized_quantile_residuals, surrogate_residuals
from mlmpipe.diagnostics.residuals import residual_diagnostics
from mlmpipe.diagnostics.response import response_columns

__all__ = [
    "flagged_clusters",
    "glmm_residual_diagnostics",
    "glmm_residuals",
    "influence_table",
    "leave_one_cluster_out",
    "randomized_quantile_residuals",
    "residual_diagnostics",
    "residual_summary_line",
    "response_columns",
    "standardized_modes",
    "surrogate_residuals",
]
