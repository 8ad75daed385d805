"""Execute the parameterized report notebook (papermill) and render self-contained HTML
(nbconvert, or Quarto when chosen / available)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlmpipe.errors import PlanError
from mlmpipe.report.offline import make_offline
from mlmpipe.report.page import finalize

ENGINES = ("auto", "quarto", "nbconvert")
KERNEL_NAME = "mlmpipe-python"


def choose_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise PlanError(
            f"report.engine: {engine!r} is not allowed; allowed values: {', '.join(ENGINES)}"
        )
    if engine == "auto":
        return "quarto" if shutil.which("quarto") else "nbconvert"
    if engine == "quarto" and not shutil.which("quarto"):
        raise PlanError(
            "report.engine: 'quarto' chosen but no quarto executable on PATH; allowed values: auto, nbconvert"
        )
    return engine


def _kernel_dir() -> str:
    """A kernelspec that runs the current interpreter, so a fresh venv needs no kernel install."""
    d = Path(tempfile.mkdtemp(prefix="mlmpipe-kernel-"))
    kdir = d / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "mlmpipe (current Python)",
        "language": "python",
    }
    (kdir / "kernel.json").write_text(json.dumps(spec))
    return str(d)


def execute_notebook(notebook, parameters: dict, executed) -> None:
    import papermill as pm  # heavy: only when executing the notebook

    kdir = _kernel_dir()
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = kdir + (os.pathsep + old if old else "")
    try:
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=os.getcwd(),
            progress_bar=False,
        )
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
        shutil.rmtree(kdir, ignore_errors=True)


def to_html_nbconvert(executed, html, title: str = "Multilevel analysis report") -> None:
    import nbformat  # heavy: nbconvert rendering only
    from nbconvert import HTMLExporter  # heavy: nbconvert rendering only

    nb = nbformat.read(str(executed), as_version=4)
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    body, _ = exporter.from_notebook_node(nb)

    Path(html).write_text(finalize(make_offline(body), title), encoding="utf-8")


def to_html_quarto(executed, html) -> None:
    executed, html = Path(executed), Path(html)
    subprocess.run(
        [
            "quarto",
            "render",
            executed.name,
            "--to",
            "html",
            "-M",
            "embed-resources:true",
            "-M",
            "echo:false",
            "--output",
            html.name,
        ],
        cwd=executed.parent,
        check=True,
    )
    produced = executed.parent / html.name
    if produced.resolve() != html.resolve():
        shutil.move(produced, html)


def render_report(notebook, parameters: dict, executed, html, engine: str = "auto") -> str:
    """Execute ``notebook`` with ``parameters`` into ``executed`` and render ``html``.

    Returns the engine used.
    """
    engine = choose_engine(engine)
    execute_notebook(notebook, parameters, executed)
    spec = json.loads(parameters.get("spec") or "{}")
    title = (spec.get("report") or {}).get("title") or "Multilevel analysis report"
    if engine == "quarto":
        to_html_quarto(executed, html)
    else:
        to_html_nbconvert(executed, html, title)
    return engine
