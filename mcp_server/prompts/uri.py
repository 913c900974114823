"""Prompt references: 'prompts:/name/3', 'prompts:/name@alias', 'prompts:/name' or a bare name,
with an optional version or alias given beside it (MLflow's load_prompt forms)."""

from __future__ import annotations

from typing import NamedTuple

from store.errors import InvalidArgument
from store.prompts import LATEST, SCHEME, check_name

FORMS = "'prompts:/name/3' (a version), 'prompts:/name@production' (an alias), 'prompts:/name' (the latest) or 'name'"


class PromptRef(NamedTuple):
    """Which prompt version to load: by `version`, by `alias`, or (both None) the latest."""

    name: str
    version: int | None
    alias: str | None


def _version(text: str, uri: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise InvalidArgument(f"{uri!r} does not end in a version number (1, 2, ...); use one of {FORMS}.")
    return int(text)


def parse_prompt_ref(name_or_uri: str, *, version: int | None = None, alias: str | None = None) -> PromptRef:
    """The reference `name_or_uri` makes with `version` or `alias`; InvalidArgument for a malformed
    URI, or a version or alias given twice."""
    if not isinstance(name_or_uri, str):
        raise InvalidArgument(f"name_or_uri must be a string: {FORMS}.")
    if version is not None and alias is not None:
        raise InvalidArgument("pass version or alias, not both: a version is fixed, an alias points at one.")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise InvalidArgument(f"version must be a version number (1, 2, ...); got {version!r}.")
    name, uri_version, uri_alias = name_or_uri, None, None
    if name_or_uri.startswith(SCHEME):
        body = name_or_uri[len(SCHEME):]
        if "@" in body:
            name, uri_alias = body.split("@", 1)
        elif "/" in body:
            name, number = body.split("/", 1)
            uri_version = _version(number, name_or_uri)
        else:
            name = body
    elif "/" in name_or_uri or "@" in name_or_uri:
        raise InvalidArgument(f"{name_or_uri!r} is neither a prompt name nor a prompt URI; use one of {FORMS}.")
    check_name(name)
    if (uri_version is not None or uri_alias is not None) and (version is not None or alias is not None):
        raise InvalidArgument(
            f"{name_or_uri!r} already names a version or alias; drop version/alias, or pass the bare name with them."
        )
    version = version if version is not None else uri_version
    alias = alias if alias is not None else uri_alias
    if alias == LATEST:
        alias = None
    if alias is not None and not alias:
        raise InvalidArgument(f"{name_or_uri!r} has an empty alias; use one of {FORMS}.")
    return PromptRef(name, version, alias)
