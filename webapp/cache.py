"""The web app's one cache: a bounded, per-process map of results and rendered answers.

Every key names what it holds and everything that depends on: (what, Params, language, ..., data
revision, network stamp); see ``webapp.model.Atlas.cached``. A change of the stored data or of the
network versions makes new keys, so nothing is invalidated: old entries are no longer asked for and
fall out, least recently used first, when the cache is full. Two threads asking for one new key at
once both build it (the second answer is kept). Nothing is written to disk; each server process
(gunicorn worker) keeps its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

V = TypeVar("V")
DEFAULT_MB = 128
OBJECT_BYTES = 1024 * 1024  # what a value without ``nbytes`` (a scored result) is counted as


def sizeof(value: Any) -> int:
    """The bytes a value is counted as: ``nbytes`` if it has one, a tuple the sum of its items."""
    if isinstance(value, tuple):
        return sum(sizeof(v) for v in value)
    if isinstance(value, (bytes, str)):
        return len(value)
    nbytes = getattr(value, "nbytes", None)
    return int(nbytes) if isinstance(nbytes, int) else OBJECT_BYTES


class Cache:
    """A least-recently-used map bounded in bytes (``sizeof``), safe to share between threads.

    Parameters
    ----------
    max_bytes : what the values may add up to; the oldest are dropped beyond it (never the newest).
    """

    def __init__(self, max_bytes: int = DEFAULT_MB * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value kept under ``key``, else ``make()``, kept (built outside the lock)."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
        value = make()
        self.put(key, value)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key``, dropping the least recently used beyond ``max_bytes``."""
        size = sizeof(value)
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes += size - (old[1] if old else 0)
            self._items[key] = (value, size)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


__all__ = ["Cache", "sizeof"]
