"""The ``xai run`` / ``xai audit`` config: the strict schema, YAML with line numbers and the
resolved job plan."""
