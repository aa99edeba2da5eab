"""Bounds on a config's YAML, checked on PyYAML's node graph before anything walks it.

A YAML file can be small and still huge: anchors and aliases share nodes, so nine lines of
aliases to aliases ("billion laughs") make a value that a walk (our line index, pydantic's
validation) visits billions of times; an alias inside its own anchor makes a cycle; and deep
nesting overflows recursive walkers. A config is a few hundred values at most, so generous caps
turn these into one :class:`ConfigError` at the offending line instead of a hang or a traceback.
"""

from __future__ import annotations

import yaml

from xai_cli.config.schema import ConfigError

MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read (1 MiB; real ones are a few kilobytes)."""

MAX_VALUES = 100_000
"""Most values the document may expand to, counting each alias use as a full copy."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists (real configs nest about six levels)."""


def _where(shown: str, node: yaml.Node) -> str:
    mark = node.start_mark
    return f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown


def check_node_graph(root: yaml.Node, shown: str) -> None:
    """Raise :class:`ConfigError` if the document nests deeper than :data:`MAX_DEPTH`, refers to
    itself through an alias, or expands to more than :data:`MAX_VALUES` values.

    The walk is iterative (no recursion limit) and stops at the first cap it meets, so it costs
    at most :data:`MAX_VALUES` steps whatever the input.
    """
    visited = 0
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        if not entering:
            on_path.discard(id(node))
            continue
        visited += 1
        if visited > MAX_VALUES:
            raise ConfigError(
                f"{_where(shown, node)}: the YAML expands to more than {MAX_VALUES} values "
                "through anchors and aliases",
                hint="a config needs a few hundred values; use fewer nested aliases",
            )
        if id(node) in on_path:
            raise ConfigError(
                f"{_where(shown, node)}: an alias refers to a value that contains it",
                hint="a config cannot contain itself; copy the values instead",
            )
        if not isinstance(node, yaml.CollectionNode):
            continue
        if len(on_path) >= MAX_DEPTH:
            raise ConfigError(
                f"{_where(shown, node)}: the YAML nests more than {MAX_DEPTH} levels deep",
                hint="a config nests a few levels; check the brackets",
            )
        on_path.add(id(node))
        stack.append((node, False))
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = list(node.value)
        stack.extend((child, True) for child in reversed(children))
