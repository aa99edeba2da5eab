"""Stage 2: what the model is. The adapter (family, task, outputs, feature names, label encoding)
and the library-neutral tree format with a parser per library."""
