"""Running shards on this machine: the process pool, its sizing, and the local backend over a results directory."""
