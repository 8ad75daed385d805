# Power and sample size (plan: power, issue 17): simulation batches are separate jobs, batch b of
# cell c seeded [seed, c, b]; the closed forms, tables and curve come from the pooled batches.
# Target: snakemake --cores 2 power (defined only when the plan has a power: section).
if "power" in config:
    from mlmpipe.plan.schema import validate_config as _validate_config
    from mlmpipe.power.section import power_section as _power_section

    try:
        POWER = _power_section(_validate_config(config, SCHEMA), PLAN)
    except PlanError as exc:
        raise SystemExit(f"mlmpipe: invalid plan: {exc}")
    POWER_BATCHES = range(len(POWER.batch_sizes())) if POWER.simulate else []

    rule power_batch:
        input:
            code=codedeps.code_files(
                "mlmpipe.plan:Plan",
                "mlmpipe.plan.schema:validate_config",
                "mlmpipe.power.run:simulate_batch",
                "mlmpipe.power.run:write_outputs",
                "mlmpipe.power.section:power_section",
            ),
        output:
            "reports/power/batches/batch{batch}.json",
        wildcard_constraints:
            batch=r"\d+",
        params:
            power=repr(POWER),  # the typed section: a changed power plan reruns the batches
        log:
            "logs/power/batch{batch}.log",
        script:
            "../scripts/power.py"

    rule power:
        input:
            batches=[f"reports/power/batches/batch{b}.json" for b in POWER_BATCHES],
            code=codedeps.code_files(
                "mlmpipe.plan:Plan",
                "mlmpipe.plan.schema:validate_config",
                "mlmpipe.power.run:simulate_batch",
                "mlmpipe.power.run:write_outputs",
                "mlmpipe.power.section:power_section",
            ),
        output:
            [
                f"reports/power/{f}"
                for f in (
                    "analytic.csv",
                    "mdes.csv",
                    "min_clusters.csv",
                    "simulation.csv",
                    "power_curve.png",
                    "assumptions.md",
                    "power.json",
                )
            ],
        params:
            power=repr(POWER),
        log:
            "logs/power/power.log",
        script:
            "../scripts/power.py"
