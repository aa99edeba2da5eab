"""Stage 4: running methods. The engine (prepare, estimate, run, compare); the one method runner
(``runner``: records every method's outcome, computed in memory or streamed); the row-wise
execution over partitions (``rowwise``: local or Dask); time estimates; and the one job runner of
``xai run`` and ``xai audit`` (``batch``: parallel, atomic job folders, resume)."""
