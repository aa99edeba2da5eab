"""Stage 1 of the flow: files to objects. Safe model loading, CSV/Parquet reading, column matching,
seeded sampling and the partitions a streamed run reads."""
