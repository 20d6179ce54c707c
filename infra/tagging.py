"""The tags every taggable resource of a stage carries: ``project`` (the name prefix) and ``stage``."""

from __future__ import annotations

from employee_pipeline.config import PipelineNames

CHANGE = "tags"  # what the deploy report names when an existing resource gets its tags


def stage_tags(names: PipelineNames) -> dict[str, str]:
    return {"project": names.prefix, "stage": names.stage}


def as_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """``{"k": "v"}`` as ``[{"Key": "k", "Value": "v"}]`` (the shape most APIs take)."""
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def from_list(tags: list[dict[str, str]], key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tags}


def missing(current: dict[str, str], wanted: dict[str, str]) -> dict[str, str]:
    """The wanted tags ``current`` lacks or holds another value for (other tags are left alone)."""
    return {k: v for k, v in wanted.items() if current.get(k) != v}
