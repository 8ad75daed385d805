"""One function per pipeline step (Snakemake rule): data and typed plan slices in, objects out.

The rule scripts under ``workflow/scripts/`` read their inputs, call one step, and write the
outputs; all decisions live in the steps where they can be tested without Snakemake
(:func:`mlmpipe.run_plan` calls them in DAG order). One module per stage of the DAG; this file
imports nothing, so a rule's job loads only its own step's code.
"""
