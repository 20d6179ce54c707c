"""``make bench``: the pipeline's throughput, requests, Airflow footprint and memory, against baselines."""
