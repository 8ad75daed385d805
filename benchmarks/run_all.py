"""Run every benchmark, ours and the peers in one run, and rewrite benchmarks/RESULTS.md (issue 20, item 7).

Usage::

    python benchmarks/run_all.py [--quick] [--no-r] [--only lmm,glmm,ordinal,kr,mi]
                                 [--output benchmarks/RESULTS.md]

Each benchmark script runs in its own process with ``--json`` (and ``--markdown`` where it renders
its own table) into a temporary directory; this script then writes RESULTS.md from those files
alone: the machine, the load before and after, the commit (``+dirty`` when the work tree has
uncommitted changes), every table, and the issue-20 targets with met / missed computed from the
same run. The file is rewritten as a whole, so no row survives from an earlier commit; the account
of what changed between runs lives in benchmarks/HISTORY.md. A benchmark that fails is reported in
its section with the tail of its output, and the script exits non-zero.

``--quick`` runs a small subset of every benchmark (a smoke test of the whole chain, about two
minutes); its numbers are not meant for RESULTS.md, so it writes ``--output`` only when given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


@dataclass(frozen=True)
class Bench:
    key: str
    title: str
    script: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    uses_r: bool = True
    markdown: bool = False  # the script renders its own Markdown table (--markdown OUT)


BENCHES = (
    Bench(
        "lmm",
        "LMM engine vs mixedlm 1.3.0 and lme4 / lmerTest",
        "bench_lmm.py",
        ("--no-sm", "--repeat", "2"),
        ("--no-sm", "--quick", "--repeat", "1"),
        markdown=True,
    ),
    Bench(
        "glmm",
        "GLMMs vs lme4::glmer",
        "bench_glmm.py",
        ("--cases", "contraception,guimmun,mmmec,cbpp,cbpp_agq25,synthetic"),
        ("--cases", "contraception"),
    ),
    Bench(
        "ordinal",
        "Cumulative-link mixed models vs ordinal::clmm",
        "bench_ordinal.py",
        (),
        ("--cases", "wine"),
    ),
    Bench(
        "kr",
        "Kenward-Roger df vs pbkrtest",
        "bench_kr.py",
        (),
        ("--cases", "hsb", "--repeat", "1"),
        markdown=True,
    ),
    Bench(
        "residual",
        "Residual structures (AR(1), varIdent) vs nlme::lme",
        "bench_residual.py",
        (),
        ("--repeat", "1"),
        markdown=True,
    ),
    Bench(
        "power",
        "Simulation power vs lme4 simulate + refit + lmerTest (simr's approach)",
        "bench_power.py",
        ("--reps", "1000", "--r-reps", "300"),
        ("--reps", "50", "--r-reps", "20"),
    ),
    Bench(
        "mi",
        "Multilevel multiple imputation (ours only)",
        "bench_mi.py",
        (),
        ("--m", "3", "--iterations", "3", "--repeat", "1"),
        uses_r=False,
    ),
)


def git_commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(
            ["git", *a], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + ("+dirty" if dirty else "")


def run_bench(b: Bench, tmp: Path, quick: bool, no_r: bool) -> dict:
    out_json = tmp / f"{b.key}.json"
    out_md = tmp / f"{b.key}.md"
    cmd = [sys.executable, str(HERE / b.script), *(b.quick_args if quick else b.args)]
    if no_r and b.uses_r:
        cmd.append("--no-r")
    cmd += ["--json", str(out_json)]
    if b.markdown:
        cmd += ["--markdown", str(out_md)]
    print(f"== {b.key}: {shlex.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    print(proc.stdout[-3000:], end="", flush=True)
    res = {
        "cmd": "python benchmarks/"
        + shlex.join(cmd[1:]).replace(str(tmp) + "/", "OUT/").replace(str(HERE) + "/", ""),
        "wall": wall,
        "rc": proc.returncode,
        "tail": (proc.stdout + proc.stderr).strip().splitlines()[-15:],
        "json": json.loads(out_json.read_text()) if out_json.exists() else None,
        "markdown": out_md.read_text() if out_md.exists() else None,
    }
    if proc.returncode:
        print(f"!! {b.key} failed (exit {proc.returncode}):\n" + "\n".join(res["tail"]))
    return res


# ------------------------------------------------------------------------------------------
# Tables from the JSON of the scripts that print their own console tables
# ------------------------------------------------------------------------------------------
def _f(x, fmt: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def glmm_table(rows: list[dict]) -> list[str]:
    lines = [
        "| case | n | ours s | glmer s | ours/glmer | ours CPU s | glmer CPU s | max rel Δβ "
        "| logLik ours − glmer |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['n']:,} | {_f(r['ours'], '.2f')} | {_f(r.get('glmer'), '.2f')} "
            f"| {_f(r.get('ratio'), '.2f')} | {_f(r['ours_cpu'], '.2f')} "
            f"| {_f(r.get('glmer_cpu'), '.2f')} | {_f(r.get('max_rel_dbeta'), '.1e')} "
            f"| {_f(r.get('dloglik'), '.1e')} |"
        )
    for r in rows:
        msgs = r.get("glmer_messages") or []
        if msgs or (r.get("dloglik") or 0) > 1e-4:
            lines.append("")
            lines.append(
                f"- {r['case']}: logLik ours − glmer = {r.get('dloglik', float('nan')):+.2e}"
                + (f"; glmer (default settings): {'; '.join(msgs)}" if msgs else "")
                + (
                    " — our optimum is higher, so Δβ compares with glmer's unconverged estimates"
                    if (r.get("dloglik") or 0) > 1e-4
                    else ""
                )
            )
    return lines


def ordinal_table(rows: list[dict]) -> list[str]:
    lines = [
        "| case | n | ours s | clmm s | ours/clmm | ours CPU s | clmm CPU s | max rel Δpar "
        "| logLik ours − clmm |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['n']:,} | {_f(r['ours'], '.2f')} | {_f(r.get('clmm'), '.2f')} "
            f"| {_f(r.get('ratio'), '.2f')} | {_f(r['ours_cpu'], '.2f')} "
            f"| {_f(r.get('clmm_cpu'), '.2f')} | {_f(r.get('max_rel_dpar'), '.1e')} "
            f"| {_f(r.get('dloglik'), '.1e')} |"
        )
    return lines


def power_table(res: dict) -> list[str]:
    """One cra2 cell (40 schools x 20, ICC 0.2, effect 0.4 SD), Satterthwaite t per replicate."""
    lines = [
        "| replicates | ours ms / replicate | lme4 ms / replicate | ours/lme4 | power ours (MC SE) "
        "| lme4 rejection rate | closed form |",
        "|---|---|---|---|---|---|---|",
        f"| {res['reps']:,} | {res['ours_ms_per_rep']:.1f} | {_f(res.get('lme4_ms_per_rep'), '.1f')} "
        f"| {_f(res.get('ratio'), '.3f')} | {res['power']:.3f} ({res['mc_se']:.3f}) "
        f"| {_f(res.get('lme4_reject'), '.3f')} | {res['closed_form']:.3f} |",
    ]
    return lines


def mi_table(res: dict) -> list[str]:
    return [
        "| rows | clusters | m | iterations | best wall s | CPU s |",
        "|---|---|---|---|---|---|",
        f"| {res['rows']:,} | {res['clusters']:,} | {res['m']} | {res['iterations']} "
        f"| {res['wall']:.2f} | {res['cpu']:.2f} |",
    ]


# ------------------------------------------------------------------------------------------
# Issue 20's targets, from this run only
# ------------------------------------------------------------------------------------------
def targets(runs: dict) -> list[tuple[str, str, str]]:
    """(target, result, status) rows; a target whose benchmark did not run says so."""
    out: list[tuple[str, str, str]] = []

    def status(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

    lmm = (runs.get("lmm") or {}).get("json")
    if lmm:
        res = lmm["results"]
        ratios = {
            k: r["ours"]["t_none"] / r["mx"]["t"]
            for k, r in res.items()
            if "t_none" in r.get("ours", {}) and (r.get("mx") or {}).get("t")
        }
        if ratios:
            g = math.exp(sum(map(math.log, ratios.values())) / len(ratios))
            out.append(
                ("geometric mean ours/mixedlm ≤ 1.0", f"{g:.2f} over {len(ratios)}", status(g <= 1))
            )
            worst = max(ratios, key=ratios.get)
            out.append(
                (
                    "no case above 1.5 × mixedlm",
                    f"largest: {worst} {ratios[worst]:.2f}",
                    status(ratios[worst] <= 1.5),
                )
            )
        lme = {
            k: r["ours"]["t_none"] / r["r"]["t_lme4"]
            for k, r in res.items()
            if "t_none" in r.get("ours", {}) and (r.get("r") or {}).get("t_lme4")
        }
        if lme:
            worst = max(lme, key=lme.get)
            out.append(
                (
                    "every case ≤ lme4",
                    f"largest ours/lme4: {worst} {lme[worst]:.2f}",
                    status(lme[worst] <= 1),
                )
            )
        if "insteval" in lme:
            out.append(
                ("InstEval ≤ 0.5 × lme4", f"{lme['insteval']:.2f}", status(lme["insteval"] <= 0.5))
            )
        star = res.get("star")
        if star and (star.get("r") or {}).get("t_lmertest") and "t_satt" in star["ours"]:
            q = star["ours"]["t_satt"] / star["r"]["t_lmertest"]
            out.append(("STAR with df ≤ lmerTest", f"{q:.2f}", status(q <= 1)))
    glmm = (runs.get("glmm") or {}).get("json")
    if glmm:
        by = {r["case"]: r for r in glmm}
        if "synthetic" in by:
            t = by["synthetic"]["ours"]
            out.append(("GLMM synthetic 400k < 30 s", f"{t:.1f} s", status(t < 30)))
        for k in ("contraception", "guimmun"):
            if by.get(k, {}).get("ratio") is not None:
                q = by[k]["ratio"]
                out.append((f"{k} ≤ 0.5 × glmer", f"{q:.2f}", status(q <= 0.5)))
    ordinal = (runs.get("ordinal") or {}).get("json")
    if ordinal:
        by = {r["case"]: r for r in ordinal}
        if by.get("wine", {}).get("ratio") is not None:
            q = by["wine"]["ratio"]
            out.append(("ordinal wine within 2 × clmm", f"{q:.2f}", status(q <= 2)))
    return out


MACHINE_PREFIXES = (
    "- CPU:",
    "- Python ",
    "- BLAS ",
    "- mlmpipe at commit",
    "- load average",
    "- R ",
)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def render(runs: dict, commit: str, started: str, load0: str, load1: str, total: float) -> str:
    from bench_lmm import machine_info

    info = machine_info()
    lines = [
        "# Benchmarks",
        "",
        "Written by `python benchmarks/run_all.py` from one run of every benchmark; do not edit by "
        "hand (rerun it). What changed between runs, and the numbers of earlier commits, are in "
        "`benchmarks/HISTORY.md`.",
        "",
        f"- run: {started}, {total / 60:.1f} min; mlmpipe at commit {commit}",
        f"- CPU: {info['cpu']}, {info['nproc']} logical CPUs; RAM {info['ram_gb']} GB",
        f"- Python {info['python']}, NumPy {info['numpy']}, SciPy {info['scipy']}; BLAS "
        f"{'; '.join(info['blas'])}",
        f"- load average (1, 5, 15 min): {load0} before, {load1} after. Ours and each peer run "
        "in the same run under the same load, so the ratios compare; absolute times rise with "
        "the load",
    ]
    lmm = (runs.get("lmm") or {}).get("json") or {}
    r_info = (lmm.get("machine") or {}).get("r")
    if r_info:
        lines.append(
            f"- {r_info.get('r')}, lme4 {r_info.get('lme4')}, lmerTest {r_info.get('lmertest')}"
        )
    rows = targets(runs)
    if rows:
        lines += [
            "",
            "## Targets (issue 20)",
            "",
            "| target | this run | status |",
            "|---|---|---|",
        ]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    for b in BENCHES:
        run = runs.get(b.key)
        if run is None:
            continue
        lines += ["", f"## {b.title}", "", f"Command: `{run['cmd']}` ({run['wall']:.0f} s).", ""]
        if run["rc"]:
            lines += [f"**Failed** (exit {run['rc']}); last lines:", "", "```", *run["tail"], "```"]
            continue
        if b.markdown and run["markdown"]:
            md = run["markdown"].rstrip().splitlines()
            if b.key == "lmm":  # its machine lines repeat the header above; keep R's
                md = [ln for ln in md if not ln.startswith(MACHINE_PREFIXES)]
            lines += md
        elif b.key == "glmm":
            lines += glmm_table(run["json"])
        elif b.key == "ordinal":
            lines += ordinal_table(run["json"])
        elif b.key == "power":
            lines += power_table(run["json"])
        elif b.key == "mi":
            lines += mi_table(run["json"])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small subset of every benchmark")
    ap.add_argument("--no-r", action="store_true", help="skip the R peers")
    ap.add_argument("--only", help="comma-separated subset of " + ",".join(b.key for b in BENCHES))
    ap.add_argument("--output", help="default benchmarks/RESULTS.md (none with --quick)")
    args = ap.parse_args(argv)
    keys = args.only.split(",") if args.only else [b.key for b in BENCHES]
    unknown = set(keys) - {b.key for b in BENCHES}
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    output = args.output or (None if args.quick else str(HERE / "RESULTS.md"))
    commit = git_commit()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load0 = _load()
    t0 = time.perf_counter()
    runs: dict = {}
    with tempfile.TemporaryDirectory(prefix="mlmbench_all_") as tmpd:
        for b in BENCHES:
            if b.key in keys:
                runs[b.key] = run_bench(b, Path(tmpd), args.quick, args.no_r)
    text = render(runs, commit, started, load0, _load(), time.perf_counter() - t0)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    else:
        print(text)
    failed = [k for k, r in runs.items() if r["rc"]]
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
