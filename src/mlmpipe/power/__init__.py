"""Power and sample size from the plan: closed forms (:mod:`.analytic`), simulation with the
production engine (:mod:`.simulate`), the typed ``power:`` plan section (:mod:`.section`) and the
tables and curves under reports/power/ (:mod:`.run`)."""
