"""The cost model: what a run will cost and how long its shards queue on Lambda (`estimate`,
`queueing`). Used by submit, the dispatch record's deadlines and the CLI's `sweep plan --stage`;
never by the worker. The list prices it applies are `sweep_contracts.prices`, the defaults of
settings that travel with every run."""
