"""AWS adapters for sweep: the S3 store, SSM stage settings and secrets, Lambda clients."""
