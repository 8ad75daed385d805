"""The ``mlmpipe`` command: ``run`` (Snakemake), ``init`` (starter plan), ``fit`` (one model),
``prereg freeze|diff`` (preregistration), ``verify`` (rerun and compare every artifact)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import mlmpipe
from mlmpipe.errors import MlmpipeError


def workflow_root() -> Path | None:
    """The directory holding the Snakefile shipped with this checkout (editable installs)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "Snakefile").exists() and (root / "workflow").is_dir() else None


def cmd_run(args) -> int:
    if not Path("Snakefile").exists():
        raise MlmpipeError(
            f"mlmpipe run: no Snakefile in {Path.cwd()}; run it in a project made by 'mlmpipe init DIR' "
            "or in the mlmpipe checkout"
        )
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
    if args.dry_run:
        cmd.append("-n")
    cmd += args.snakemake_args
    return subprocess.call(cmd)


def cmd_init(args) -> int:
    d = Path(args.dir)
    plan = d / "config" / "analysis.yaml"
    if plan.exists() and not args.force:
        raise MlmpipeError(f"mlmpipe init: {plan} exists (use --force to overwrite)")
    (d / "config" / "schema").mkdir(parents=True, exist_ok=True)
    (d / "data" / "raw").mkdir(parents=True, exist_ok=True)
    templates = resources.files("mlmpipe") / "templates"
    text = (templates / "starter_plan.yaml").read_text(encoding="utf-8")
    if args.data:
        src = Path(args.data)
        if not src.exists():
            raise MlmpipeError(f"mlmpipe init: --data {src} does not exist")
        shutil.copy2(src, d / "data" / "raw" / src.name)
        text = text.replace("file: mydata.csv ", f"file: {src.name} ")
    plan.write_text(text, encoding="utf-8")
    (d / "config" / "schema" / "analysis.schema.yaml").write_text(
        (templates / "analysis.schema.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    root = workflow_root()
    if root is not None:
        shutil.copy2(root / "Snakefile", d / "Snakefile")
        shutil.copytree(root / "workflow", d / "workflow", dirs_exist_ok=True)
        profiles = root / "config" / "profiles"  # e.g. slurm: run the pipeline on a cluster
        if profiles.is_dir():
            shutil.copytree(profiles, d / "config" / "profiles", dirs_exist_ok=True)
    print(
        f"wrote {plan}; edit it, put your data in {d / 'data' / 'raw'}, then run 'mlmpipe run' in {d}"
    )
    return 0


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
    )
    print(res.summary())
    if args.json:
        Path(args.json).write_text(
            json.dumps(res.to_dict(), indent=1, default=str), encoding="utf-8"
        )
    return 0


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
    from mlmpipe.plan import load_plan  # per command: keeps --help fast
    from mlmpipe.prereg import deviation_report, format_deviations, load_frozen  # per command

    frozen = load_frozen(".")
    if frozen is None:
        raise MlmpipeError(
            "mlmpipe prereg diff: no preregistration frozen (run 'mlmpipe prereg freeze')"
        )
    plan = load_plan(args.plan)
    report = deviation_report(frozen[0], plan.config, frozen[1], plan.hash)
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
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the pipeline (snakemake) in the current directory")
    r.add_argument("--cores", default="all")
    r.add_argument("-n", "--dry-run", action="store_true")
    r.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="passed on to snakemake")
    r.set_defaults(func=cmd_run)
    i = sub.add_parser("init", help="write a starter plan (and the workflow) into DIR")
    i.add_argument("dir")
    i.add_argument("--data", help="copy this data file into DIR/data/raw/ and name it in the plan")
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
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MlmpipeError as exc:
        print(f"mlmpipe: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
