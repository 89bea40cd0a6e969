"""The `sweep` commands, one module per group; importing one registers its commands on `app`."""
