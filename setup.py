"""Ship the workflow inside the package: ``build_py`` copies the Snakefile, ``workflow/`` (rules,
scripts, the report notebook) and ``config/`` (the example plans, the schema, the cluster profiles)
into ``mlmpipe/_workflow/`` of the wheel, where ``mlmpipe init`` finds them (mlmpipe.workflow_files).
The repository keeps its layout, so a checkout runs ``snakemake`` as it is."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("Snakefile", "workflow", "config")  # mirrors mlmpipe.workflow_files.SHIPPED
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".snakemake")


class BuildPyWithWorkflow(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        dest = Path(self.build_lib) / "mlmpipe" / "_workflow"
        for name in SHIPPED:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, dest / name, ignore=IGNORE, dirs_exist_ok=True)
            else:
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)


setup(cmdclass={"build_py": BuildPyWithWorkflow})
