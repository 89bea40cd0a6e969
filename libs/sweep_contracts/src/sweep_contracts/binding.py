"""Where a secret may go: the endpoints (scheme, host and port) and the header it may travel in.

The run request names the endpoint and the header; it must not decide where a key goes, or anyone
who may submit could have the key sent to a server of theirs. So each secret is bound:

- On a stage, by its settings admin: the String parameter `<prefix>secret-bindings/<name>`, set
  from the stack config `sweep:secretBindings.<name>` by `pulumi up`, holds
  `{"endpoints": [...], "header": "..."}`. An endpoint is `https://host[:port]`, or
  `http://<loopback>:port` listed explicitly; a secret without a binding goes nowhere. The
  orchestrator refuses a request whose endpoints or header the binding does not allow, and the
  worker checks every call again (a task can be forged).
- Locally, by the user: `SWEEP_SECRET_<NAME>_ENDPOINTS`, a comma-separated list of endpoints of
  the same form, and only those. Without it the key goes to loopback endpoints only, so a sweep
  file from someone else cannot send it elsewhere. The header is the config's.

A key is never sent over plain http to a host that is not loopback, and never along a redirect."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import field_validator

from sweep_contracts.base import Frozen

BINDINGS_PATH = "secret-bindings/"
"""A stage's secret bindings are String parameters `<prefix>secret-bindings/<name>` (JSON)."""

ENDPOINTS_SUFFIX = "_ENDPOINTS"
"""Locally, `SWEEP_SECRET_<NAME>_ENDPOINTS` lists where secret `<name>` may go."""

ENDPOINT_FIELD = "endpoint"
HEADER_FIELD = "api_key_header"
DEFAULT_HEADER = "Authorization"
"""The config fields through which an experiment that declares secrets says where it sends them
(`sweep_experiments.llm.config.EndpointConfig`)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin(scheme: str, host: str, port: int | None) -> str:
    """`scheme://host:port`, lowercased, with the scheme's default port written out."""
    scheme, host = scheme.lower(), host.lower().strip("[]")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port if port is not None else _DEFAULT_PORTS.get(scheme, 0)}"


def url_origin(url: str) -> str | None:
    """The origin of `url`, or None when it has no http(s) scheme, no host or a bad port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return origin(parts.scheme, parts.hostname, port)


def _host(endpoint_origin: str) -> str:
    return endpoint_origin.split("://", 1)[1].rsplit(":", 1)[0]


def check_endpoint(text: str) -> str:
    """An allowed endpoint as an origin; ValueError naming the rule it breaks."""
    found = url_origin(text)
    parts = urlsplit(text.strip())
    if found is None or (parts.path not in ("", "/")) or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{text!r} is not an endpoint: give `https://host[:port]` (no path)")
    if found.startswith("http://") and not is_loopback(_host(found)):
        raise ValueError(f"{text!r} is plain http to a host that is not loopback: a key may travel only over https")
    return found


class SecretBinding(Frozen):
    """Where one secret may go. `header` None allows any header (local runs); `loopback` allows
    any loopback endpoint (the local default); `setting` names what to change to allow more."""

    endpoints: tuple[str, ...] = ()
    header: str | None = DEFAULT_HEADER
    loopback: bool = False
    setting: str = ""

    @field_validator("endpoints", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ValueError("`endpoints` must be a list of `https://host[:port]`")
        return tuple(check_endpoint(str(item)) for item in value)

    @field_validator("header")
    @classmethod
    def _header(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("-", "").isalnum():
            raise ValueError(f"header {value!r} is not a header name")
        return value

    def refusal(self, name: str, url: str, header: str) -> str | None:
        """Why secret `name` may not be sent to `url` in `header`, naming the setting to change;
        None when it may."""
        found = url_origin(url)
        if found is None:
            return f"secret `{name}` is not sent to {url!r}: not an http(s) URL with a host"
        host = _host(found)
        allowed = found in self.endpoints or (self.loopback and is_loopback(host))
        if found.startswith("http://") and not is_loopback(host):
            allowed = False
        if not allowed:
            where = ", ".join(self.endpoints) or ("loopback endpoints only" if self.loopback else "no endpoint")
            return (
                f"secret `{name}` may not be sent to endpoint {found} (allowed: {where}); "
                f"a settings admin allows an endpoint in {self.setting}"
            )
        if self.header is not None and header.lower() != self.header.lower():
            return (
                f"secret `{name}` may travel only in header `{self.header}`, not `{header}`; "
                f"set `api_key_header: {self.header}`, or change the header in {self.setting}"
            )
        return None


def stage_setting(name: str) -> str:
    return f"the stack config `sweep:secretBindings.{name}` (`pulumi up`)"


def parse_stage_binding(name: str, text: str | None) -> SecretBinding:
    """The binding in parameter `<prefix>secret-bindings/<name>`; none (None) binds to no endpoint.
    A binding that does not parse binds to no endpoint too: a key is never sent on a guess."""
    setting = stage_setting(name)
    if text is None:
        return SecretBinding(setting=setting)
    try:
        raw = json.loads(text)
        return SecretBinding.model_validate({**raw, "setting": setting, "loopback": False})
    except (ValueError, TypeError):
        return SecretBinding(setting=f"{setting} (its value does not parse)")


def local_binding(name: str, environ: Mapping[str, str], prefix: str) -> SecretBinding:
    """Locally: the endpoints in `<prefix><NAME>_ENDPOINTS` only, or without it any loopback
    endpoint; any header. A listed endpoint that breaks the rules is `ValueError` naming it."""
    variable = f"{prefix}{name.upper()}{ENDPOINTS_SUFFIX}"
    listed = [item.strip() for item in environ.get(variable, "").split(",") if item.strip()]
    setting = f"`{variable}` (comma-separated `https://host[:port]`)"
    return SecretBinding(endpoints=tuple(listed), header=None, loopback=not listed, setting=setting)


UNBOUND = SecretBinding(header=None, loopback=True, setting="the binding of the code that passed the key")
"""A key given as a plain string (not read by sweep): https anywhere is the caller's choice, plain
http only to loopback."""


class BoundSecret(str):
    """A secret's value with its name and binding: the HTTP client checks each call against it."""

    name: str
    binding: SecretBinding

    def __new__(cls, value: str, name: str, binding: SecretBinding) -> BoundSecret:
        made = super().__new__(cls, value)
        made.name = name
        made.binding = binding
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return (BoundSecret, (str(self), self.name, self.binding))


def refusal(key: str, url: str, header: str, name: str = "api_key") -> str | None:
    """Why `key` may not be sent to `url` in `header`; None when it may."""
    if isinstance(key, BoundSecret):
        return key.binding.refusal(key.name, url, header)
    found = url_origin(url)
    if found is not None and found.startswith("https://"):
        return None
    return UNBOUND.refusal(name, url, header)


def request_destinations(config: Mapping[str, Any], spec: Any) -> tuple[set[str], set[str]]:
    """Every endpoint and header value a request's points can take: the config's, and those of
    every grid axis, explicit point or sampled choice named `endpoint` or `api_key_header`."""
    endpoints: set[str] = set()
    headers: set[str] = set()

    def add(field: str, values: Iterable[Any]) -> None:
        target = endpoints if field == ENDPOINT_FIELD else headers
        target.update(str(v) for v in values)

    for field in (ENDPOINT_FIELD, HEADER_FIELD):
        if field in config:
            add(field, [config[field]])
        for grid in [spec.grid or {}, *(g.axes for g in spec.grids or ())]:
            add(field, grid.get(field, ()))
        for point in spec.points or ():
            if field in point:
                add(field, [point[field]])
        if spec.sample is not None and field in spec.sample.space:
            drawn = spec.sample.space[field]
            add(field, drawn.args if drawn.kind == "choice" else [f"{{{drawn.kind}: {list(drawn.args)}}}"])
    return endpoints, headers


def check_request(
    names: Iterable[str],
    bindings: Mapping[str, SecretBinding],
    config: Mapping[str, Any],
    spec: Any,
    default_header: str = DEFAULT_HEADER,
) -> None:
    """Refuse (`RequestError`, 400) a request whose points would send a bound secret to an endpoint
    or in a header its binding does not allow. A secret without a binding at submit is left to the
    worker, which sends it nowhere (its binding may be set later; the worker reads its own)."""
    from sweep_contracts.errors import RequestError

    endpoints, headers = request_destinations(config, spec)
    for name in names:
        binding = bindings.get(name)
        if binding is None:
            continue
        for endpoint in sorted(endpoints):
            for header in sorted(headers or {default_header}):
                reason = binding.refusal(name, endpoint, header)
                if reason is None:
                    continue
                # the endpoint passes with the bound header: then the header is what is wrong
                wrong_header = binding.refusal(name, endpoint, binding.header or header) is None
                raise RequestError(
                    reason + ".",
                    field=f"config.{HEADER_FIELD if wrong_header else ENDPOINT_FIELD}",
                    value=header if wrong_header else endpoint,
                    limit={"endpoints": list(binding.endpoints), "header": binding.header},
                    hint=f"use an allowed endpoint and header, or ask a settings admin to change {binding.setting}.",
                )
