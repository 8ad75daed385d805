"""Model diagnostics: residuals and standardized conditional modes at each level, outliers,
heteroscedasticity across clusters, and cluster influence from leave-one-cluster-out refits."""

from mlmpipe.diagnostics.influence import flagged_clusters, influence_table, leave_one_cluster_out
from mlmpipe.diagnostics.residuals import residual_diagnostics, standardized_modes

__all__ = [
    "flagged_clusters",
    "influence_table",
    "leave_one_cluster_out",
    "residual_diagnostics",
    "standardized_modes",
]
