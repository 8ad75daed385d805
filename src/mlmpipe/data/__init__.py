"""Data input: readers, the bundled example, structure checks and per-level descriptives."""

# the module mlmpipe.data.describe (init --data) is loaded first, so that loading it later does
# not rebind the package attribute ``describe`` (the descriptives function below) to the module
import mlmpipe.data.describe as _describe_module  # noqa: F401
from mlmpipe.data.checks import validate_data
from mlmpipe.data.descriptives import describe
from mlmpipe.data.example import fetch_example, load_example
from mlmpipe.data.readers import read_table

__all__ = ["describe", "fetch_example", "load_example", "read_table", "validate_data"]
