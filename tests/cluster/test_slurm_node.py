"""The single-node SLURM helper: its config and why it declines to start (runs without SLURM)."""

from pathlib import Path

from . import slurm_node


def test_missing_daemons_make_the_cluster_test_skip_with_a_reason(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert slurm_node.missing_requirements() == (
        "munged not installed (apt-get install slurm-wlm munge)"
    )


def test_a_foreign_slurm_conf_is_never_touched(monkeypatch, tmp_path):
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=university\n")
    monkeypatch.setattr(slurm_node, "CONF", conf)
    monkeypatch.setattr(slurm_node.shutil, "which", lambda exe: f"/usr/bin/{exe}")
    monkeypatch.setattr(slurm_node.os, "geteuid", lambda: 0)
    assert slurm_node.missing_requirements().endswith(
        "not written by mlmpipe: not touching a real cluster"
    )
    assert conf.read_text() == "ClusterName=university\n"


def test_config_has_the_single_node_facts(monkeypatch, tmp_path):
    conf = tmp_path / "slurm.conf"
    monkeypatch.setattr(slurm_node, "CONF", conf)
    monkeypatch.setattr(slurm_node, "_node_line", lambda: "NodeName=box CPUs=2 RealMemory=900")
    text = slurm_node.write_config(Path("/state"), "box")
    assert conf.read_text() == text and text.startswith(slurm_node.MARKER)
    for line in (
        "SlurmctldHost=box",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "AccountingStorageType=accounting_storage/none",
        "NodeName=box CPUs=2 RealMemory=900 State=UNKNOWN",
        "PartitionName=main Nodes=box Default=YES MaxTime=INFINITE State=UP",
    ):
        assert line in text.splitlines()
    min_job_age = int(
        next(x for x in text.splitlines() if x.startswith("MinJobAge=")).split("=")[1]
    )
    assert min_job_age >= 3 * 60  # squeue must still list finished jobs at the status checks
