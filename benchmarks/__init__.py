"""Benchmarks for xai-cli's explainers: ``make bench`` (or ``python -m benchmarks.run``).

``workloads`` trains the seeded models once (cached), ``measure`` times one implementation in
a fresh process (so peak memory is its own), ``run`` puts them side by side in a Markdown table.
"""
