"""Stage 4: running methods. The engine (prepare, estimate, run, compare), the row-wise runner over
partitions (local, joblib or Dask), time estimates and batch jobs."""
