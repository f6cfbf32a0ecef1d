"""Babel extractor for flow files: every translatable YAML value becomes a msgid in messages.pot.

Registered under the `babel.extractors` entry point as `vollsmose_flows`, so `pybabel extract -F
babel.cfg` and `vollsmose-bot catalog extract` both take flow texts into the same template.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

from bot.content.models import TRANSLATABLE_KEYS


def extract_flows(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Yield (line, function, message, comments) for each translatable value in a flow file."""
    root = yaml.compose(fileobj.read().decode("utf-8"), Loader=yaml.SafeLoader)
    if root is not None:
        yield from _walk(root, [], set())


def _walk(
    node: yaml.Node, path: list[str], seen: set[int]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    # An alias is the same node again: walked once, so nested aliases (a "YAML bomb") cost
    # what they are written with, not billions of steps.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = str(key.value)
            if name in TRANSLATABLE_KEYS and isinstance(value, yaml.ScalarNode) and value.value:
                # The YAML path tells translators where the text appears.
                yield value.start_mark.line + 1, None, value.value, [".".join([*path, name])]
            else:
                yield from _walk(value, [*path, name], seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(
                item, [*path[:-1], f"{path[-1]}[{index}]"] if path else [str(index)], seen
            )
