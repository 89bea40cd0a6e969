"""Config fields every LLM experiment shares: where the model is, how to reach it, how long to
wait and how often to retry. They are ordinary config: recorded with every row, and sweepable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EndpointConfig(BaseModel):
    """Endpoint, model, timeouts, retries and per-shard concurrency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(description="Base URL of the server, e.g. http://127.0.0.1:11434 (no path).")
    model: str = Field(min_length=1, description="Model name as the server knows it.")
    api_key_header: str = Field(
        default="Authorization",
        description="Header that carries the `api_key` secret: `Authorization` (sent as `Bearer <key>`) "
        "or any other name such as `X-API-Key` (sent as the bare key). No key (or an empty one) sends no "
        "header. The key goes only where its binding allows (docs/deploy.md, Secret bindings).",
    )
    api_key_required: bool = Field(
        default=False,
        description="True: a missing `api_key` secret fails the shard before any call (SECRET_UNAVAILABLE); "
        "false: without a key, calls carry no auth header (a keyless local server).",
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, le=600, description="TCP connect timeout.")
    load_timeout_s: float = Field(
        default=300.0,
        gt=0,
        le=900,
        description="Time limit of the first call of a worker process to this endpoint, model and "
        "load options (the server may load the model; a client timeout aborts the load).",
    )
    timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=900,
        description="Time limit of every later call, from connect to the answer's last byte (not per "
        "read: a server that trickles its answer is cut here). The shard's time budget also ends a call.",
    )
    max_attempts: int = Field(default=4, ge=1, le=10, description="Tries per call, the first included.")
    backoff_s: float = Field(default=0.5, ge=0, le=60, description="First retry's wait without retry-after; doubles.")
    max_backoff_s: float = Field(default=30.0, ge=0, le=600, description="Longest wait between tries.")
    concurrency: int = Field(default=4, ge=1, le=64, description="Points of one shard run at once.")
    stop_after_connect_failures: int = Field(
        default=3,
        ge=0,
        le=1000,
        description="After this many consecutive calls of a shard that could not connect to `endpoint` "
        "(retries included), its other points become error rows at once, without calling (0: never stop).",
    )

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"`endpoint` must be an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")
