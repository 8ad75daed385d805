"""The SLURM profile: keys Snakemake and the executor plugin accept, copied by 'mlmpipe init'."""

from pathlib import Path

import yaml

from mlmpipe.cli import main

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "config/profiles/slurm/config.yaml"


def test_profile_selects_the_slurm_executor_with_default_resources():
    cfg = yaml.safe_load(PROFILE.read_text())
    assert cfg["executor"] == "slurm"
    assert {"runtime", "mem_mb", "cpus_per_task"} <= set(cfg["default-resources"])
    assert cfg["default-resources"]["cpus_per_task"] == 1  # one BLAS thread per fit


def test_init_copies_the_profile(tmp_path):
    assert main(["init", str(tmp_path / "proj")]) == 0
    copied = tmp_path / "proj/config/profiles/slurm/config.yaml"
    assert copied.read_text() == PROFILE.read_text()
