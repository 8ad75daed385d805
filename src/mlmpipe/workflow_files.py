"""Where the workflow this installation runs lives: the Snakefile, ``workflow/`` (rules, scripts,
report notebook) and ``config/`` (example plans, schema, cluster profiles).

A wheel carries them in ``mlmpipe/_workflow/`` (copied there by setup.py's ``build_py``); an
editable install or a checkout uses the repository root. ``mlmpipe init`` copies them into the new
project, so a project holds the exact workflow it was run with (``mlmpipe verify`` reruns that copy,
and rules' relative paths such as ``workflow/notebooks/report.ipynb`` resolve in the project).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: what a project gets from the installation (mirrored by setup.py)
SHIPPED = ("Snakefile", "workflow", "config")


def _complete(root: Path) -> bool:
    return (root / "Snakefile").is_file() and (root / "workflow" / "rules").is_dir()


def workflow_root() -> Path | None:
    """The directory holding ``Snakefile``, ``workflow/`` and ``config/``: the package's
    ``_workflow/`` in a wheel install, else the checkout the package was imported from (None when
    neither is there)."""
    packaged = Path(str(resources.files("mlmpipe"))) / "_workflow"
    if _complete(packaged):
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    return checkout if _complete(checkout) else None


def example_plan(name: str, root: Path) -> Path:
    """The bundled example plan ``name``: ``hsb`` is ``config/analysis.yaml`` (the default plan of
    the repository), any other is ``config/examples/<name>.yaml``."""
    if name == "hsb":
        return root / "config" / "analysis.yaml"
    return root / "config" / "examples" / f"{name}.yaml"


def example_names(root: Path) -> list[str]:
    """The names :func:`example_plan` accepts."""
    return ["hsb", *sorted(p.stem for p in (root / "config" / "examples").glob("*.yaml"))]
