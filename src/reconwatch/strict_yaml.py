"""YAML as the user's files are read: a key given twice in one mapping is an error.

PyYAML keeps the last of two equal keys and drops the first in silence: a
config with two ``vertical_scan:`` blocks lost the first one's ``min_ports``,
two ``site:`` blocks lost the home networks, and a misspelt threshold must
never be silently ignored. Merge keys (``<<: *defaults``) may still be
overridden by the mapping's own keys, as YAML means them to be.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(ConstructorError):
    """A mapping names one key twice; ``problem_mark`` is the second one."""

    def __init__(self, key: object, first: Node, second: Node) -> None:
        self.key = key
        self.first_line = first.start_mark.line + 1
        super().__init__(
            None,
            None,
            f"duplicate key {str(key)[:80]!r} (first on line {self.first_line})",
            second.start_mark,
        )

    def __str__(self) -> str:
        return str(self.problem)


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the SafeLoader says so below
                    continue
                if first is not None:
                    raise DuplicateKeyError(key, first, key_node)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """``yaml.safe_load`` that raises :class:`DuplicateKeyError` for a repeated key."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def error_line(exc: yaml.YAMLError) -> int | None:
    """The (1-based) line a YAML error points at, when it points at one."""
    mark = getattr(exc, "problem_mark", None)
    return None if mark is None else int(mark.line) + 1
