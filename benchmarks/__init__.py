"""`make bench`: gas, throughput and latency of Infera on a local devnet, with same-run baselines.

`python -m benchmarks.run` runs every measurement, prints a table, and writes
`benchmarks/results/latest.json`, PNG plots beside it, and `BENCHMARKS.md` at the repository root.
"""
