"""Adaptive search: rounds of trials asked of an Optuna study rebuilt from the run's own rows.

`journal` reads what the store holds (round runs and their rows) into trial records; `optimiser`
rebuilds the study from them and asks the next round; `rounds` advances a search one step, the
same way locally and on a stage."""
