"""Record the raw file's SHA-256, the plan hash, package versions and the seed."""

import json
import sys

from mlmpipe.provenance import provenance_record

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
record = provenance_record(sm.input.raw, sm.params.plan_hash, sm.params.seed, sm.params.backend)
json.dump(record, open(sm.output[0], "w"), indent=2)
