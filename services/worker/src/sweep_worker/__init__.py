"""The sweep worker: runs one shard of points and writes its Parquet."""
