"""Reading a run's results: DuckDB views over the rows (`query`), typed axis columns (`axes`),
`sweep.load` (`load`), `results --head` (`head`), metric-name checks (`metrics`) and the failed
shards `sweep logs` lists (`failed_shards`). The same views serve a local run and a stage's
Athena tables."""
