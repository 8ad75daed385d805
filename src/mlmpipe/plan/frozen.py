"""Immutable building blocks of the typed plan: a frozen mapping and the section base class.

A plan section is a frozen dataclass; its ``to_dict()`` gives the plain JSON value (lists and dicts)
that the config and the step slices carry. ``section[key]`` / ``section.get(key)`` /
``section.items()`` read that plain value, so readers written for the old dict-valued plan keep
working while they move to attributes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces: the form whose bytes are a Snakemake job's parameter (cache key)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def plain(value: Any) -> Any:
    """The JSON value of a typed plan value: sections and frozen maps -> dicts, tuples -> lists."""
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def freeze(value: Any) -> Any:
    """The immutable form of a plain JSON value: dicts -> :class:`FrozenMap`, lists -> tuples."""
    if isinstance(value, Mapping):
        return FrozenMap.of({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


class FrozenMap(Mapping, Generic[K, V]):
    """An immutable, hashable mapping kept in insertion order (an open section: name -> value).

    Equal to any mapping with the same items (order is not compared), like a dict.
    """

    __slots__ = ("_items",)

    def __init__(self, items: tuple[tuple[K, V], ...] = ()) -> None:
        object.__setattr__(self, "_items", tuple((k, v) for k, v in items))

    @classmethod
    def of(cls, mapping: Mapping[K, V] | None = None) -> FrozenMap[K, V]:
        return cls(tuple((mapping or {}).items()))

    def __getitem__(self, key: K) -> V:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[K]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items))

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __repr__(self) -> str:
        return f"FrozenMap({dict(self._items)!r})"

    def replace(self, **changes: V) -> FrozenMap[K, V]:
        """A copy with some values changed or added (keys keep their place)."""
        out = dict(self._items) | changes
        return FrozenMap.of(out)


class Section:
    """Base of the frozen plan sections: plain-value view for dict-style readers."""

    def to_dict(self) -> dict:
        """The section as plain JSON values, as the validated config (and the slices) hold it."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def items(self):
        return self.to_dict().items()

    def keys(self):
        return self.to_dict().keys()
