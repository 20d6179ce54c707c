"""IAM's catalogue of actions, resource types and ARN formats, as AWS publishes it.

Read from the Service Authorization Reference that parliament (in the development lock) ships as
``iam_definition.json``, so no table of AWS's actions is written by hand here. An action the catalogue
does not list is not an action: the local AWS refuses a request that would need it.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


@dataclass(frozen=True)
class ResourceType:
    name: str
    arn: str  # e.g. arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}
    required: bool  # "table*" in the catalogue: the action always needs one

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.arn))

    def fill(self, values: dict[str, str]) -> str | None:
        """The ARN with every placeholder filled from ``values``; None if one is missing."""
        if any(not values.get(name) for name in self.placeholders):
            return None
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], self.arn)


@dataclass(frozen=True)
class Action:
    service: str  # the IAM prefix: s3, dynamodb, cloudwatch...
    name: str
    resource_types: tuple[ResourceType, ...]

    @property
    def qualified(self) -> str:
        return f"{self.service}:{self.name}"


class UnknownActionError(LookupError):
    """The catalogue has no such action."""


@functools.cache
def _definition() -> dict[str, list[dict[str, Any]]]:
    # Located, not imported: parliament's __init__ needs pkg_resources, which setuptools 81 removed.
    spec = importlib.util.find_spec("parliament")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("parliament is not installed: the local AWS reads IAM's catalogue from it (make venv)")
    text = (Path(spec.submodule_search_locations[0]) / "iam_definition.json").read_text()
    by_prefix: dict[str, list[dict[str, Any]]] = {}
    for service in json.loads(text):
        by_prefix.setdefault(service["prefix"], []).append(service)
    return by_prefix


@functools.cache
def action(qualified: str) -> Action:
    """``"s3:GetObject"`` as the catalogue describes it (action names are case-insensitive in IAM)."""
    prefix, _, name = qualified.partition(":")
    for service in _definition().get(prefix.lower(), ()):
        resources_by_name = {entry["resource"]: entry for entry in service["resources"]}
        for privilege in service["privileges"]:
            if privilege["privilege"].lower() != name.lower():
                continue
            types = []
            for entry in privilege["resource_types"]:
                type_name = entry["resource_type"].rstrip("*")
                if type_name and type_name in resources_by_name:
                    arn = resources_by_name[type_name]["arn"]
                    types.append(ResourceType(type_name, arn, entry["resource_type"].endswith("*")))
            return Action(prefix.lower(), privilege["privilege"], tuple(types))
    raise UnknownActionError(f"{qualified} is not an action in IAM's catalogue")


def is_action(qualified: str) -> bool:
    try:
        action(qualified)
    except UnknownActionError:
        return False
    return True
