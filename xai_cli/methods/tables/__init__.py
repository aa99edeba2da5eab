"""xai's own tree kernels: a library-neutral forest, parsers for each library, and exact
TreeSHAP (path-dependent and interventional) by per-leaf tables compiled with numba."""
