"""One generic plugin registry, instantiated for methods, datasets and metrics.

Built-ins register with a decorator where they are defined; the registry finds them by importing
the modules of their home package (which must stay light: heavy imports live inside functions).
Third-party packages register through the entry-point groups ``xrec_bench.methods``,
``xrec_bench.metrics`` and ``xrec_bench.datasets``.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from xrec_bench.errors import UserError
from xrec_bench.plugin import check_dataset, check_method, check_metric


@dataclass(frozen=True)
class Entry:
    name: str
    summary: str
    obj: Any


class Registry:
    """A name → plugin table for one kind of plugin."""

    def __init__(self, kind: str, home_package: str, entry_point_group: str, check: Callable[[Any], None]):
        self.kind = kind
        self.home_package = home_package
        self.entry_point_group = entry_point_group
        self.check = check  # raises TypeError when a plugin breaks its contract
        self._entries: dict[str, Entry] = {}
        self._discovered = False

    def register(self, name: str, *, summary: str) -> Callable[[Any], Any]:
        """Decorator: ``@methods.register("xrec", summary="...")`` on a class or factory."""

        def decorate(obj: Any) -> Any:
            self.add(name, obj, summary=summary)
            return obj

        return decorate

    def add(self, name: str, obj: Any, *, summary: str) -> None:
        """Register ``obj`` under ``name``, refusing (TypeError) a plugin that breaks its contract."""
        known = self._entries.get(name)
        if known is not None and known.obj is not obj:
            raise ValueError(f"two {self.kind} plugins are both named {name!r}")
        self.check(obj)
        if isinstance(obj, type):
            obj.name = name
            obj.summary = summary
        self._entries[name] = Entry(name, summary, obj)

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.home_package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self.home_package}.{module.name}")
        for entry_point in entry_points(group=self.entry_point_group):
            # Loading the entry point imports the plugin module, whose decorator registers it;
            # a bare object (no decorator) is registered under the entry point's name.
            try:
                obj = entry_point.load()
                if entry_point.name not in self._entries:
                    summary = (getattr(obj, "__doc__", None) or "").strip().splitlines()[:1]
                    self.add(entry_point.name, obj, summary=summary[0] if summary else "")
            except TypeError as exc:
                raise UserError(f"The {self.kind} plugin {entry_point.name!r} ({entry_point.value}, entry point "
                                f"group {self.entry_point_group}) breaks the plugin contract: {exc}; "
                                f"fix or uninstall its package.") from None

    def entries(self) -> list[Entry]:
        self._discover()
        return sorted(self._entries.values(), key=lambda e: e.name)

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def get(self, name: str) -> Any:
        self._discover()
        if name in self._entries:
            return self._entries[name].obj
        known = sorted(self._entries)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UserError(f"Unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(known)}.{hint}")


methods = Registry("method", "xrec_bench.methods", "xrec_bench.methods", check_method)
datasets = Registry("dataset", "xrec_bench.data", "xrec_bench.datasets", check_dataset)
metrics = Registry("metric", "xrec_bench.metrics", "xrec_bench.metrics", check_metric)
