"""The experiment registry: experiments by name, from the entry point group `sweep.experiments`,
each imported when first asked for, with a plugin that fails to import or clashes on a name kept
aside as that plugin's error."""

from __future__ import annotations

import difflib
import signal
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from sweep_contracts import packages
from sweep_contracts.errors import PluginWarning, UnknownExperimentError
from sweep_contracts.experiments.api import Experiment

ENTRY_POINT_GROUP = "sweep.experiments"
BUILTIN_DISTRIBUTION = packages.EXPERIMENTS
"""The distribution of sweep's own experiments: no plugin may take one of their names."""


class Registry:
    """Experiments by name, each imported when it is first asked for: a command imports the plugin
    of the experiment it works with, so another plugin cannot slow, stop or answer for it.

    A name that two distributions register is refused (asking for it names both), and a plugin
    that takes the name of a built-in is ignored with a warning naming both: neither is left to
    the order of `sys.path`. An import that raises or exits (`SystemExit` too) is that plugin's
    error: a warning, and an error only for a sweep that asks for it."""

    _default: Registry | None = None
    _on_demand: Registry | None = None
    _lock = threading.Lock()

    def __init__(self, experiments: Iterable[Experiment[Any]] = (), pending: Iterable[EntryPoint] = ()) -> None:
        self._experiments: dict[str, Experiment[Any]] = {}
        self._broken: dict[str, BrokenPlugin] = {}
        self._pending: dict[str, EntryPoint] = {}
        self._conflicts: dict[str, list[str]] = {}
        self._shadowing: dict[str, list[str]] = {}
        self._loading = threading.RLock()  # a plugin may ask the registry while it is imported
        by_name: dict[str, dict[str, EntryPoint]] = {}
        for ep in pending:
            by_name.setdefault(ep.name, {}).setdefault(_package_of(ep), ep)
        for name, by_package in sorted(by_name.items()):
            builtin = [ep for ep in by_package.values() if _distribution_name(ep) == BUILTIN_DISTRIBUTION]
            if builtin:
                self._pending[name] = builtin[0]
                others = sorted(p for p, ep in by_package.items() if ep is not builtin[0])
                if others:
                    self._shadowing[name] = others
            elif len(by_package) > 1:
                self._conflicts[name] = sorted(by_package)
            else:
                self._pending[name] = next(iter(by_package.values()))
        for experiment in experiments:
            self.register(experiment)

    def register(self, experiment: Experiment[Any]) -> None:
        if not isinstance(experiment, Experiment):
            raise TypeError(f"expected an Experiment, got {type(experiment).__name__}")
        self._experiments[experiment.name] = experiment

    def names(self) -> list[str]:
        """Every installed name, from the entry points' metadata: nothing is imported."""
        return sorted({*self._experiments, *self._pending, *self._conflicts})

    def __contains__(self, name: object) -> bool:
        return name in self._experiments or name in self._pending or name in self._conflicts

    def plugin(self, name: str) -> str | None:
        """The package (`name version`) of a third-party plugin not imported yet; None for a built-in
        or an experiment already loaded or refused."""
        ep = self._pending.get(name)
        return _package_of(ep) if ep is not None and _distribution_name(ep) != BUILTIN_DISTRIBUTION else None

    def find(self, name: str) -> Experiment[Any] | None:
        """The experiment, or None where it is unknown or could not be loaded (after its warning)."""
        try:
            return self.get(name)
        except UnknownExperimentError:
            return None

    def get(self, name: str) -> Experiment[Any]:
        if name in self._shadowing:
            self._warn_shadowing(name)
        if name in self._pending:
            self._load_pending([name])
        try:
            return self._experiments[name]
        except KeyError:
            pass
        packages = self._conflicts.get(name)
        if packages is not None:
            raise UnknownExperimentError(
                f"experiment `{name}` is registered by {len(packages)} packages: "
                + ", ".join(f"`{p}`" for p in packages)
                + "; sweep does not choose between them.",
                field="experiment",
                value=name,
                hint=f"uninstall all but one of them, or rename the `{ENTRY_POINT_GROUP}` entry point "
                f"`{name}` in all but one.",
            )
        broken = self._broken.get(name)
        if broken is not None:
            raise UnknownExperimentError(
                f"experiment `{name}` is installed but could not be loaded: {broken.describe()}",
                field="experiment",
                value=name,
                hint=f"fix or reinstall the package `{broken.package}` (install what it imports, correct its "
                f"`{ENTRY_POINT_GROUP}` entry point `{broken.target}`), or uninstall it.",
            )
        close = difflib.get_close_matches(name, self.names(), n=1)
        guess = f"; did you mean `{close[0]}`?" if close else ""
        raise UnknownExperimentError(
            f"experiment `{name}` is not registered{guess}",
            field="experiment",
            value=name,
            hint=f"registered experiments: {', '.join(self.names()) or 'none'}. Install a package that "
            f"registers it under the `{ENTRY_POINT_GROUP}` entry point group.",
        )

    @property
    def broken(self) -> Mapping[str, BrokenPlugin]:
        """Entry points that failed to load, by experiment name: each is an error only for a sweep
        that asks for it, so one broken package never takes down every command. Loads every one."""
        self._load_pending(list(self._pending))
        return dict(self._broken)

    @property
    def conflicts(self) -> Mapping[str, list[str]]:
        """Names that several packages register (none of them is loaded), with those packages."""
        return dict(self._conflicts)

    def _warn_shadowing(self, name: str) -> None:
        builtin = _package_of(self._pending[name]) if name in self._pending else BUILTIN_DISTRIBUTION
        for package in self._shadowing.pop(name):
            warnings.warn(
                f"ignoring experiment plugin `{name}` from package `{package}`: `{name}` is the name of "
                f"sweep's built-in experiment (package `{builtin}`); rename the plugin's "
                f"`{ENTRY_POINT_GROUP}` entry point",
                PluginWarning,
                stacklevel=4,
            )

    def _load_pending(self, names: list[str]) -> None:
        with self._loading:
            for ep in [self._pending.pop(n) for n in names if n in self._pending]:
                try:
                    with _plugin_import(ep.name) as interrupted:
                        self.register(_load(ep))
                # anything a third-party plugin raises while it is imported is that plugin's, not the
                # command's: an exception, and `sys.exit()` or a `KeyboardInterrupt` of its own
                except BaseException as exc:
                    if interrupted:  # the user's Ctrl-C while it imported: the command stops
                        raise
                    broken = BrokenPlugin(ep.name, _package_of(ep), ep.value, _error_text(exc))
                    self._broken[ep.name] = broken
                    warnings.warn(f"skipping experiment plugin {broken.describe()}", PluginWarning, stacklevel=3)

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP, *, on_demand: bool = False) -> Registry:
        """Every installed experiment; one that fails to load is logged once as a warning (naming
        its package and the error) and kept aside, so only a sweep asking for it fails. `on_demand`:
        each is imported when first asked for, so a command imports only the experiments it uses."""
        registry = cls(pending=entry_points(group=group))
        if not on_demand:
            registry._load_pending(list(registry._pending))
        return registry

    @classmethod
    def default(cls) -> Registry:
        """The installed experiments, each imported when a command first names it."""
        with cls._lock:
            if cls._default is None:
                cls._default = cls.from_entry_points(on_demand=True)
            return cls._default

    @classmethod
    def on_demand(cls) -> Registry:
        """The installed experiments, each imported when a task first names it: at a fan-out, a
        worker pays for its own experiment's imports (the LLM ones bring an HTTP client), not all."""
        with cls._lock:
            if cls._on_demand is None:
                cls._on_demand = cls._default or cls.from_entry_points(on_demand=True)
            return cls._on_demand


@dataclass(frozen=True)
class BrokenPlugin:
    """An installed `sweep.experiments` entry point that failed to load."""

    name: str
    package: str
    target: str
    error: str

    def describe(self) -> str:
        return f"`{self.name}` from package `{self.package}` (`{self.target}`) failed with {self.error}"


def _load(ep: EntryPoint) -> Experiment[Any]:
    experiment = ep.load()
    if not isinstance(experiment, Experiment):
        raise TypeError(f"`{ep.value}` is a {type(experiment).__name__}, not a sweep Experiment")
    if experiment.name != ep.name:
        raise TypeError(f"entry point `{ep.name}` loads experiment `{experiment.name}`; the names must match")
    return experiment


@contextmanager
def _plugin_import(name: str) -> Iterator[list[bool]]:
    """Around a plugin's import: `sys.argv` is only `[name]` (a plugin that parses the command line
    on import answers its own usage, not sweep's), and, in the main thread, a Ctrl-C is recorded,
    so that a `KeyboardInterrupt` the user caused still stops the command while one the plugin
    raised itself is only its error."""
    argv, sys.argv = sys.argv, [name]
    interrupted: list[bool] = []
    watching = threading.current_thread() is threading.main_thread()  # only it may set a handler
    if watching:
        previous = signal.getsignal(signal.SIGINT)

        def on_interrupt(signum: int, frame: Any) -> None:
            interrupted.append(True)
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        sys.argv = argv
        if watching:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) while it was imported"
    return f"{type(exc).__name__}: {exc}"


def _distribution_name(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else None


def _package_of(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else ep.value.split(":")[0].split(".")[0]
