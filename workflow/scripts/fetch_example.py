"""Write the bundled example data set to data/raw/ (the only writer of data/raw/)."""

import sys

from mlmpipe.data import fetch_example

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
fetch_example(snakemake.params.example, snakemake.output[0])  # noqa: F821
