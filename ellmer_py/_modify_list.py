"""``modify_list()``: how ``api_args`` are merged into a request body (R: ``modifyList``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["modify_list"]


def modify_list(base: Mapping[str, Any], update: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge ``update`` into ``base`` the way R's ``modifyList()`` does (R: ``modifyList``).

    Where both hold a dict under the same key, the dicts merge recursively;
    a ``None`` in ``update`` deletes the key; any other value (lists
    included) replaces the old one. Neither input is mutated (values that
    are not merged are shared with the inputs, not copied).
    """
    out = dict(base)
    if not update:
        return out
    for key, value in update.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping):
            old = out.get(key)
            out[key] = modify_list(old if isinstance(old, Mapping) else {}, value)
        else:
            out[key] = value
    return out
