"""Report tables for the preregistration sections: deviations, the estimation decision log and
the reproducibility certificate. Each returns a DataFrame (or a Styler) and a one-line summary;
only the report notebook displays them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mlmpipe.record import FitRecord

RED = "color: #b00020; font-weight: bold"


def _show(v: Any, width: int = 80) -> str:
    s = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
    return s if len(s) <= width else s[: width - 3] + "..."


def _data_phrase(dev: dict) -> str:
    """How the analysed raw file compares with the one hashed at freezing."""
    data = dev.get("data") or {}
    if data.get("same"):
        return f" Data SHA-256 `{str(data['executed'])[:12]}` as frozen."
    if data.get("same") is False:
        return (
            f" <span style='{RED}'>The data analysed (SHA-256 `{str(data['executed'])[:12]}`) "
            f"are not the data frozen (`{str(data['registered'])[:12]}`).</span>"
        )
    return f" Data SHA-256 not compared: {data['note']}." if data.get("note") else ""


def deviation_summary(dev: dict) -> str:
    """One line for the executive summary (counts unexplained deviations, compares the data)."""
    if not dev.get("frozen"):
        return "Preregistration: **no preregistration frozen** (run `mlmpipe prereg freeze`)."
    if not dev["n_deviations"]:
        return (
            f"Preregistration: frozen plan `{str(dev.get('frozen_sha256'))[:12]}` "
            f"({dev.get('frozen_at')}); **no deviations from the preregistered plan**."
            + _data_phrase(dev)
        )
    text = (
        f"Preregistration: frozen plan `{str(dev.get('frozen_sha256'))[:12]}` ({dev.get('frozen_at')}); "
        f"**{dev['n_deviations']} deviation(s)**, of which "
    )
    if dev["n_unexplained"]:
        return (
            text
            + f"<span style='{RED}'>{dev['n_unexplained']} unexplained</span>."
            + _data_phrase(dev)
        )
    return text + "none unexplained." + _data_phrase(dev)


def deviation_table(dev: dict):
    """Each changed key: registered value, executed value, justification; unexplained rows red."""
    rows = [
        {
            "key": d["key"],
            "registered": _show(d["registered"]),
            "executed": _show(d["executed"]),
            "justification": d["justification"] or "UNEXPLAINED",
        }
        for d in dev.get("deviations", [])
    ]
    df = pd.DataFrame(rows, columns=["key", "registered", "executed", "justification"])
    if df.empty:
        return df
    flags = [not d["explained"] for d in dev["deviations"]]
    return df.style.apply(lambda r: [RED if flags[r.name] else ""] * len(r), axis=1).hide(
        axis="index"
    )


def decision_summary(log: dict) -> str:
    """How many fits were used as registered, after which rung, or unresolved."""
    s = log.get("summary", {})
    n = sum(s.values())
    parts = [
        f"{k}: {v}" for k, v in sorted(s.items(), key=lambda kv: (kv[0] != "as planned", kv[0]))
    ]
    line = f"{n} fit(s) -- " + ", ".join(parts) if n else "no fits"
    if n and set(s) == {"as planned"}:
        line += " (no fit needed the ladder)"
    for x in log.get("inconsistent", []):
        line += (
            f" <span style='{RED}'>{x['model']} ({x['estimator']}): the imputations ended at "
            f"different models ({'; '.join(x['formulas'])}).</span>"
        )
    return line


def decision_table(log: dict) -> pd.DataFrame:
    """Every rung tried for every fit that needed the ladder (fits fine as planned are counted
    in :func:`decision_summary` only). ``log`` is the decision-log document
    (``reports/decisions.json``): per fit its ladder decisions and the formula text used."""
    rows = []
    for entry in log.get("fits", []):
        if len(entry["decisions"]) <= 1:
            continue
        for d in entry["decisions"]:
            used = d["rung"] == entry["used_rung"] and d.get("formula") == entry["formula"]
            rows.append(
                {
                    "model": entry["model"],
                    "estimator": entry["estimator"],
                    "imputation": entry["imputation"],
                    "rung": d["rung"],
                    "action": d["action"],
                    "formula": d.get("formula", ""),
                    "outcome": d["outcome"],
                    "used": used,
                }
            )
    cols = ["model", "estimator", "imputation", "rung", "action", "formula", "outcome", "used"]
    return pd.DataFrame(rows, columns=cols)


def certificate_table(
    cert: dict | None, plan_sha256: str | None = None
) -> tuple[str, pd.DataFrame]:
    """(verdict line, per-artifact table) of ``reports/reproducibility.json``.

    ``plan_sha256`` is the current plan's hash: a certificate for another plan is reported stale.
    """
    if not cert:
        return "No reproducibility check has been run yet (`mlmpipe verify`).", pd.DataFrame()
    verdict = "PASSED" if cert["passed"] else "FAILED"
    line = (
        f"Reproducibility check **{verdict}** ({cert.get('verified_at')}): plan SHA-256 "
        f"`{str(cert.get('plan_sha256'))[:12]}` ({'same' if cert.get('same_plan') else 'different'}), "
        f"data SHA-256 `{str(cert.get('raw_sha256'))[:12]}` ({'same' if cert.get('same_data') else 'different'}), "
        f"{cert['n_same']} of {cert['n_compared']} artifacts the same (numbers within "
        f"{cert['rel_tol']:g} relative); rerun took {cert.get('rerun_seconds')} s."
    )
    if plan_sha256 and cert.get("plan_sha256") != plan_sha256:
        line += (
            f" <span style='{RED}'>Stale: the certificate is for another plan than this run.</span>"
        )
    rows = [
        {
            "artifact": f["path"],
            "compared as": f["how"],
            "status": f["status"],
            "first difference": (f["differences"] or [""])[0],
        }
        for f in cert["files"]
    ]
    rows += [
        {"artifact": p, "compared as": "excluded", "status": why, "first difference": ""}
        for p, why in cert.get("excluded", {}).items()
    ]
    return line, pd.DataFrame(rows)


def load_json(path: str | None) -> dict:
    """An optional report artifact: its content, or {} when the path is empty or absent."""
    return json.loads(Path(path).read_text()) if path and Path(path).exists() else {}


def reporting_fit(recs: list[FitRecord], model: str) -> FitRecord | None:
    """The record of ``model`` the report shows: its REML fit when one was planned, else its first
    record (None when the model was not fitted)."""
    cands = [r for r in recs if r.model == model]
    return next((r for r in cands if r.estimator == "reml"), cands[0] if cands else None)


def evaluate_hypotheses(
    hypotheses: list[dict], fits: list[FitRecord], alpha: float
) -> pd.DataFrame:
    """The registered hypotheses against the (pooled) fit records: estimate, CI, p and a verdict.

    A directional hypothesis is supported when the estimate has the predicted sign and the
    two-sided test rejects zero at ``alpha``; ``nonzero`` needs the rejection only. The REML fit
    of the named model is used when there is one (fixed effects by REML with Satterthwaite df).
    A hypothesis whose model was changed by the convergence ladder says so.
    """
    rows = []
    for h in hypotheses:
        fit = reporting_fit(fits, h["model"])
        row = {
            "hypothesis": h["name"],
            "model": h["model"],
            "parameter": h["parameter"],
            "prediction": h["direction"],
            "estimate": None,
            "ci": "",
            "p": None,
        }
        fixed = {r.term: r for r in (fit.fixed if fit is not None else ())}
        if fit is None:
            row["verdict"] = "model not fitted"
        elif h["parameter"] not in fixed:
            row["verdict"] = f"parameter not in the model (terms: {', '.join(fixed)})"
        else:
            r = fixed[h["parameter"]]
            sig = r.p is not None and r.p < alpha
            sign_ok = {"positive": r.estimate > 0, "negative": r.estimate < 0}.get(
                h["direction"], True
            )
            row.update(estimate=r.estimate, ci=f"[{r.ci_low:.3g}, {r.ci_high:.3g}]", p=r.p)
            row["verdict"] = (
                "supported" if sig and sign_ok else ("opposite sign" if sig else "not supported")
            )
            lad = fit.ladder or {}
            if lad.get("used_rung", "as planned") != "as planned":
                row["verdict"] += f" (model changed by the ladder: {lad['used_rung']})"
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=[
            "hypothesis",
            "model",
            "parameter",
            "prediction",
            "estimate",
            "ci",
            "p",
            "verdict",
        ],
    )
