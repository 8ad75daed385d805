"""The ``mlmpipe`` command: ``run`` (Snakemake on the project's plan or ``--plan FILE``), ``init``
(a project: the workflow and a plan, guessed from ``--data FILE`` or a bundled ``--example``),
``fit`` (one model), ``prereg freeze|diff`` (preregistration), ``verify`` (rerun and compare every
artifact)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import mlmpipe
from mlmpipe.errors import MlmpipeError
from mlmpipe.integrity import RAW_READERS, RawGuard, make_read_only
from mlmpipe.provenance import sha256_file
from mlmpipe.run_errors import RELAY_ENV, report_failed_run
from mlmpipe.run_summary import run_summary
from mlmpipe.runlock import has_lock, live_processes, run_forwarding
from mlmpipe.workflow_files import example_names, example_plan, workflow_root

DEFAULT_PLAN = "config/analysis.yaml"
#: the plan the Snakefile reads (its ``configfile:``), set by ``mlmpipe run --plan``
PLAN_ENV = "MLMPIPE_PLAN"


def _snakemake_cmd(cores: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--cores", str(cores), *args]


def _refuse_if_live(action: str) -> None:
    """One-line error when a Snakemake process (scheduler or job) works in this directory."""
    live = live_processes(".")
    if live:
        p = live[0]
        what = "a Snakemake run" if p.kind == "snakemake" else "a job of an earlier Snakemake run"
        raise MlmpipeError(
            f"mlmpipe run: {what} is still active in {Path.cwd()} (pid {p.pid}: {p.command}); "
            f"wait for it or stop it (kill -INT {p.pid}) before {action}"
        )


def _unlock(quiet: bool) -> int:
    res = subprocess.run(_snakemake_cmd("1", "--unlock"), capture_output=True, text=True)
    if res.returncode != 0:
        tail = (res.stdout + res.stderr).strip().splitlines()
        raise MlmpipeError(f"mlmpipe run: snakemake --unlock failed: {tail[-1] if tail else ''}")
    if not quiet:
        print(f"mlmpipe: unlocked {Path.cwd()}")
    return 0


def _raw_file() -> Path | None:
    """The plan's raw data file (None when the plan cannot be read: Snakemake then says why)."""
    from mlmpipe.plan import load_plan, raw_path  # per command: keeps --help fast

    try:
        return Path(raw_path(load_plan(os.environ.get(PLAN_ENV) or DEFAULT_PLAN)))
    except MlmpipeError:
        return None


def cmd_run(args) -> int:
    """Run Snakemake here: remove a stale lock, guard the raw data, forward Ctrl-C."""
    if not Path("Snakefile").exists():
        raise MlmpipeError(
            f"mlmpipe run: no Snakefile in {Path.cwd()}; run it in a project made by 'mlmpipe init DIR' "
            "or in the mlmpipe checkout"
        )
    extra = [a for a in args.snakemake_args if a != "--"]
    if args.unlock or "--unlock" in extra:
        _refuse_if_live("unlocking")
        return _unlock(quiet=False)
    if has_lock("."):
        _refuse_if_live("running")
        if live_processes(".") is None:  # no /proc: cannot tell a live run from a dead one
            raise MlmpipeError(
                f"mlmpipe run: {Path.cwd()} is locked by Snakemake; if no run is active here, "
                "remove the lock with 'mlmpipe run --unlock'"
            )
        _unlock(quiet=True)
        print(
            "mlmpipe: removed the stale Snakemake lock of an interrupted run (no Snakemake "
            "process is alive in this directory); its incomplete jobs are rerun",
            flush=True,
        )
    cmd = _snakemake_cmd(args.cores, "--rerun-incomplete")
    if args.dry_run:
        cmd.append("-n")
    raw = _raw_file()
    guard = RawGuard.start(raw) if raw is not None else None
    last = guard.changed_since_last_run(".") if guard is not None else None
    if last:
        print(
            f"mlmpipe: {raw} changed since the last run (SHA-256 {last[:12]}... then, "
            f"{guard.before[:12]}... now): every step that reads it is rerun",
            flush=True,
        )
        force = ["--forcerun", *RAW_READERS]
    else:
        force = []
    cmd += extra + force  # last: --forcerun takes every word after it
    os.environ[RELAY_ENV] = "1"  # the Snakefile's onerror handler leaves the failure lines to us
    started = time.time()
    res = run_forwarding(cmd, say=lambda m: print(m, file=sys.stderr, flush=True))
    if res.interrupted:
        lock = "left (the next run removes it)" if has_lock(".") else "released"
        print(
            f"mlmpipe: run interrupted; the finished steps are kept and the lock is {lock}: "
            "run 'mlmpipe run' again to resume",
            file=sys.stderr,
        )
        return 128 + res.signals[0]
    if guard is not None:
        guard.check_after()
    if res.returncode != 0:  # the failing rules' one-line errors, read from their logs
        report_failed_run(since=started)
    return res.returncode


def cmd_run_plan(args) -> int:
    """``mlmpipe run``: run exactly the chosen plan (``--plan``, never merged with
    config/analysis.yaml), then print what was written, the time taken and the warnings."""
    if args.plan is not None:
        if not Path(args.plan).is_file():
            raise MlmpipeError(f"mlmpipe run: --plan {args.plan} does not exist")
        os.environ[PLAN_ENV] = args.plan  # read by the Snakefile's configfile: (and its jobs)
    start = time.time()
    rc = cmd_run(args)
    quiet = args.dry_run or args.unlock or "--unlock" in args.snakemake_args
    if rc == 0 and not quiet:
        print(run_summary(".", start), flush=True)
    return rc


def cmd_init(args) -> int:
    if args.describe:  # print the guesses, write nothing
        from mlmpipe.data.describe import describe, describe_table  # per command: keeps --help fast

        if not args.data:
            raise MlmpipeError("mlmpipe init: --describe needs --data FILE")
        print(describe_table(describe(_existing(args.data))))
        return 0
    if args.dir is None:
        raise MlmpipeError("mlmpipe init: name the project directory (mlmpipe init DIR)")
    d = Path(args.dir)
    plan = d / "config" / "analysis.yaml"
    if plan.exists() and not args.force:
        raise MlmpipeError(f"mlmpipe init: {plan} exists (use --force to overwrite)")
    root = workflow_root()
    if root is None:
        raise MlmpipeError(
            "mlmpipe init: this installation carries no workflow (reinstall mlmpipe)"
        )
    templates = resources.files("mlmpipe") / "templates"
    text = (templates / "starter_plan.yaml").read_text(encoding="utf-8")
    if args.example:
        src_plan = example_plan(args.example, root)
        if not src_plan.is_file():
            raise MlmpipeError(
                f"mlmpipe init: no example {args.example!r} (one of: {', '.join(example_names(root))})"
            )
        text = src_plan.read_text(encoding="utf-8")
    if args.data:
        from mlmpipe.data.describe import describe  # per command: keeps --help fast
        from mlmpipe.init_plan import plan_from_description  # per command

        src = _existing(args.data)
        text = plan_from_description(describe(src), project=_project_name(d))
    (d / "config" / "schema").mkdir(parents=True, exist_ok=True)
    (d / "data" / "raw").mkdir(parents=True, exist_ok=True)
    if args.data:
        dest = d / "data" / "raw" / src.name
        if dest.exists() and sha256_file(dest) != sha256_file(src):
            raise MlmpipeError(
                f"mlmpipe init: {dest} exists with other content; raw data are never overwritten "
                "(remove it first)"
            )
        if not dest.exists():
            shutil.copy2(src, dest)
        make_read_only(dest)  # the pipeline only reads raw data
    plan.write_text(text, encoding="utf-8")
    (d / "config" / "schema" / "analysis.schema.yaml").write_text(
        (templates / "analysis.schema.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    shutil.copy2(root / "Snakefile", d / "Snakefile")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(root / "workflow", d / "workflow", dirs_exist_ok=True, ignore=ignore)
    for sub in ("profiles", "examples"):  # cluster profiles (slurm); the example plans
        if (root / "config" / sub).is_dir():
            shutil.copytree(root / "config" / sub, d / "config" / sub, dirs_exist_ok=True)
    what = "a plan guessed from the data: check every commented guess" if args.data else "edit it"
    print(
        f"wrote {plan} ({what}); put your data in {d / 'data' / 'raw'}, then run 'mlmpipe run' in {d}"
    )
    return 0


def _existing(file: str) -> Path:
    src = Path(file)
    if not src.exists():
        raise MlmpipeError(f"mlmpipe init: --data {src} does not exist")
    return src


def _project_name(d: Path) -> str:
    name = d.resolve().name
    return name if name.replace("-", "").replace("_", "").isalnum() else "my-analysis"


def cmd_fit(args) -> int:
    from mlmpipe.data import read_table  # per command: keeps --help fast

    df = read_table(args.data)
    res = mlmpipe.fit(
        args.formula,
        df,
        reml=not args.ml,
        backend=args.backend,
        family=args.family,
        link=args.link,
        nagq=args.nagq,
        weights=args.weights,
        correlation=args.correlation,
        variance=args.variance,
        prior=_prior_arg(args.prior),
    )
    print(res.summary())
    if args.json:
        Path(args.json).write_text(
            json.dumps(res.to_dict(), indent=1, default=str), encoding="utf-8"
        )
    return 0


def _prior_arg(text: str | None):
    """``--prior``: a prior name (``blme``, ``wishart``, ...) or a JSON prior spec."""
    if text is None or not text.lstrip().startswith("{"):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise MlmpipeError(f"--prior: not valid JSON ({e.msg} at column {e.colno})") from None


def cmd_prereg_freeze(args) -> int:
    from mlmpipe.prereg import freeze_plan  # per command: keeps --help fast

    rec = freeze_plan(args.plan, root=".", force=args.force)
    docs = ", ".join(v for k, v in rec["documents"].items() if v and k != "docx_note")
    print(f"froze {args.plan}: plan SHA-256 {rec['plan_sha256']}; wrote prereg/ ({docs})")
    if rec["documents"]["docx_note"]:
        print(f"no DOCX: {rec['documents']['docx_note']}")
    if rec["raw_sha256"] is None:
        print(f"note: {rec['raw_note']} ({rec['raw_file']})")
    return 0


def cmd_prereg_diff(args) -> int:
    from mlmpipe.plan import load_plan, raw_path  # per command: keeps --help fast
    from mlmpipe.prereg import deviation_report, format_deviations, load_frozen  # per command
    from mlmpipe.prereg.diff import raw_sha256  # per command

    frozen = load_frozen(".")
    if frozen is None:
        raise MlmpipeError(
            "mlmpipe prereg diff: no preregistration frozen (run 'mlmpipe prereg freeze')"
        )
    plan = load_plan(args.plan)
    report = deviation_report(
        frozen[0], plan.config, frozen[1], plan.hash, raw_sha256(raw_path(plan))
    )
    print(format_deviations(report))
    return 1 if report["n_unexplained"] else 0


def cmd_verify(args) -> int:
    from mlmpipe.prereg.verify import format_certificate, verify  # per command: keeps --help fast

    cert = verify(".", cores=args.cores, keep=args.keep)
    print(format_certificate(cert))
    if not args.no_report:  # show the certificate in the report's appendix
        subprocess.call([sys.executable, "-m", "snakemake", "--cores", str(args.cores), "-q"])
    return 0 if cert["passed"] else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlmpipe", description=__doc__)
    p.add_argument("--version", action="version", version=f"mlmpipe {mlmpipe.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser(
        "run",
        help="run the pipeline (snakemake) in the current directory",
        description="Run the pipeline with Snakemake in the current directory. A stale lock left "
        "by an interrupted run (no Snakemake process alive here) is removed and the incomplete "
        "jobs are rerun; Ctrl-C stops Snakemake and waits for it; the raw data file's SHA-256 is "
        "checked before and after the run.",
        epilog="Snakemake options go after '--', e.g. 'mlmpipe run -- --forceall' or "
        "'mlmpipe run -- reports/comparison.json'; options Snakemake knows but mlmpipe does not "
        "are passed on as well ('mlmpipe run --forcerun fit').",
    )
    r.add_argument("--cores", default="all", help="CPU cores for Snakemake (default: all)")
    r.add_argument("-n", "--dry-run", action="store_true", help="list the jobs, run nothing")
    r.add_argument(
        "--unlock",
        action="store_true",
        help="remove Snakemake's lock on this directory and stop (refused while a run is active)",
    )
    r.add_argument(
        "--plan",
        help="run exactly this plan file instead of config/analysis.yaml (not merged with it)",
    )
    r.add_argument(
        "snakemake_args",
        nargs=argparse.REMAINDER,
        help="targets and options passed on to snakemake",
    )
    r.set_defaults(func=cmd_run_plan)
    i = sub.add_parser("init", help="write a starter plan (and the workflow) into DIR")
    i.add_argument("dir", nargs="?", help="the new project's directory")
    i.add_argument(
        "--data",
        help="copy this data file into DIR/data/raw/ and write a plan guessed from it: column "
        "types, missing counts, ID columns and their nesting, levels, predictors, outcome",
    )
    i.add_argument(
        "--describe",
        action="store_true",
        help="with --data: print the guesses as a table and write nothing",
    )
    i.add_argument(
        "--example",
        help="start from a bundled example plan (hsb, sleepstudy, gcsemv, ...) instead of the starter",
    )
    i.add_argument("--force", action="store_true")
    i.set_defaults(func=cmd_init)
    f = sub.add_parser("fit", help="fit one model given in lme4 syntax and print its summary")
    f.add_argument("formula")
    f.add_argument("--data", required=True, help="CSV, Parquet, SPSS .sav or Stata .dta file")
    f.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    f.add_argument("--json", help="write result.to_dict() to this JSON file")
    f.add_argument("--backend", default="mlmpipe", choices=["mlmpipe", "statsmodels"])
    f.add_argument(
        "--family",
        default="gaussian",
        choices=["gaussian", "binomial", "poisson", "negbin", "ordinal"],
        help="response distribution (non-gaussian: a GLMM fitted by Laplace or AGHQ)",
    )
    f.add_argument("--link", help="link function (default: the canonical one: logit, log)")
    f.add_argument("--nagq", type=int, default=1, help="GLMM quadrature points (1 = Laplace)")
    f.add_argument(
        "--weights",
        metavar="COL",
        help="observation-weights column (residual variance sigma^2/w, as lme4's weights=)",
    )
    f.add_argument(
        "--correlation",
        help="residual correlation: 'ar1(~ occasion | subject)' or 'car1(~ time | subject)'",
    )
    f.add_argument("--variance", help="residual variances by stratum: 'ident(~ 1 | stratum)'")
    f.add_argument(
        "--prior",
        help="Bayesian modal estimation (as R's blme): blme, wishart, invwishart, gamma, "
        "invgamma, half_t, half_cauchy, or a JSON prior spec",
    )
    f.set_defaults(func=cmd_fit)
    pr = sub.add_parser("prereg", help="preregistration: freeze the plan, list deviations from it")
    prs = pr.add_subparsers(dest="prereg_command", required=True)
    fr = prs.add_parser(
        "freeze", help="write prereg/: frozen plan, hashes, preregistration document"
    )
    fr.add_argument("--plan", default="config/analysis.yaml")
    fr.add_argument("--force", action="store_true", help="overwrite an existing registration")
    fr.set_defaults(func=cmd_prereg_freeze)
    df = prs.add_parser(
        "diff", help="deviations of the plan from the frozen one (exit 1 if unexplained)"
    )
    df.add_argument("--plan", default="config/analysis.yaml")
    df.set_defaults(func=cmd_prereg_diff)
    v = sub.add_parser(
        "verify", help="rerun the pipeline from the raw data and compare every artifact"
    )
    v.add_argument("--cores", default=2, type=int)
    v.add_argument(
        "--keep", help="rerun in this new directory and keep it (default: a temporary one)"
    )
    v.add_argument(
        "--no-report", action="store_true", help="do not re-render the report afterwards"
    )
    v.set_defaults(func=cmd_verify)
    # --- power (issue 17): closed-form and simulated power of the plan's power: section ---
    pw = sub.add_parser("power", help="power and sample size of the plan's power: section")
    pw.add_argument("--plan", default="config/analysis.yaml")
    pw.add_argument("--out", default="reports/power", help="output directory")
    pw.add_argument("--no-simulate", action="store_true", help="closed forms only")
    pw.set_defaults(func=cmd_power)
    return p


def cmd_power(args) -> int:
    """``mlmpipe power``: closed-form MDES / power / minimum clusters and simulation power with
    the engine, written under reports/power/ (:mod:`mlmpipe.power.run`)."""
    from dataclasses import replace  # per command: keeps --help fast

    from mlmpipe.power.run import run_power
    from mlmpipe.power.section import load_power

    _plan, sec = load_power(args.plan)
    if args.no_simulate:
        sec = replace(sec, simulate=False)
    summary = run_power(sec, args.out)
    for row in summary["min_clusters"]:
        sub = f", {row['subclusters']} per unit" if row["subclusters"] else ""
        print(
            f"mlmpipe power: {sec.design}, cluster size {row['cluster_size']}{sub}: "
            f"{row['min_clusters']} clusters for power {sec.target:g}"
        )
    print(f"mlmpipe power: wrote {args.out}/")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # only 'run' passes unknown options on (to Snakemake)
        if args.command != "run":
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.snakemake_args = unknown + list(args.snakemake_args)
    try:
        return args.func(args)
    except MlmpipeError as exc:
        print(f"mlmpipe: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside a Snakemake run (which forwards it instead)
        print("mlmpipe: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
