"""Babel extractor for flow files: every translatable YAML value becomes a msgid in messages.pot.

Registered under the `babel.extractors` entry point as `vollsmose_flows`, so `pybabel extract -F
babel.cfg` and `vollsmose-bot catalog extract` both take flow texts into the same template.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from bot.content.loader import ContentError, Problem
from bot.content.models import TRANSLATABLE_KEYS


def extract_flows(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Yield (line, function, message, comments) for each translatable value in a flow file."""
    text = fileobj.read().decode("utf-8")
    # An alias repeats a whole subtree: ten lines of them walk billions of nodes (a "YAML
    # bomb"). Flow files never need one, so they are refused here, before composing.
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            name = Path(getattr(fileobj, "name", "flow file")).name
            message = f"YAML alias *{event.anchor} is not allowed in flow files; write it out"
            raise ContentError([Problem(name, "", message, event.start_mark.line + 1)])
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        yield from _walk(root, [])


def _walk(node: yaml.Node, path: list[str]) -> Iterator[tuple[int, str | None, str, list[str]]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = str(key.value)
            if name in TRANSLATABLE_KEYS and isinstance(value, yaml.ScalarNode) and value.value:
                # The YAML path tells translators where the text appears.
                yield value.start_mark.line + 1, None, value.value, [".".join([*path, name])]
            else:
                yield from _walk(value, [*path, name])
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, [*path[:-1], f"{path[-1]}[{index}]"] if path else [str(index)])
