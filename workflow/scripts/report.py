"""Execute the report notebook with the artifact paths and render reports/report.html."""

import json
import sys

from mlmpipe.report.render import render_report

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
params = {k: v for k, v in sm.input.items() if k not in ("notebook", "code")}
params["fits"] = list(sm.input.fits)
params["resid"] = list(sm.input.resid)
params["missing_extra"] = list(sm.input.missing_extra)  # [] without figures/delta
params["reproducibility"] = "".join(sm.input.reproducibility)  # "" until 'mlmpipe verify' ran
params["sensitivity"] = list(sm.input.sensitivity)  # [summary, table, figure] or []
params["predictions"] = list(sm.input.predictions)  # [json, figures dir] or [] (GLMM plans)
params["spec"] = sm.params.spec
render_report(
    sm.input.notebook,
    params,
    sm.output.notebook,
    sm.output.html,
    json.loads(sm.params.spec)["report"]["engine"],
)
