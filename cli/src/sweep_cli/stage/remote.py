"""The stage's HTTP API, called with SigV4-signed requests (the routes use AWS_IAM authorization).

Idempotent calls (GET, and POST /runs whose body names its `run_id`: the stage keeps one run per
run_id) are retried on 429, 5xx and connection errors with jittered exponential backoff (tenacity),
bounded in attempts and total time, each retry said on stderr. A worker that takes every slot of the
account's unreserved pool makes the orchestrator's invokes fail 429, which API Gateway answers 500:
one such answer must not end a `submit` or a `status --watch`. POST /runs/{id}/retry and
PUT /settings are sent once: a second retry re-sends shards, a second PUT may undo someone else's.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError
from botocore.httpsession import URLLib3Session

from sweep_cli.errors import CredentialsError, RemoteError, StageUnreachableError
from sweep_cli.stage.resolve import StageInfo

if TYPE_CHECKING:
    from tenacity import RetryCallState


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how long an idempotent call is tried: at most `attempts` tries within `total_s`
    seconds, waiting `base_s` × 2^n (at most `cap_s`) plus up to `base_s` of jitter between them."""

    attempts: int = 5
    total_s: float = 60.0
    base_s: float = 1.0
    cap_s: float = 15.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"`attempts` must be at least 1, got {self.attempts}")
        if min(self.total_s, self.base_s, self.cap_s) < 0:
            raise ValueError("`total_s`, `base_s` and `cap_s` must not be negative")


DEFAULT_RETRY = RetryPolicy()


def idempotent(method: str, path: str, body: Any) -> bool:
    """Whether sending the call twice does no more than sending it once."""
    if method == "GET":
        return True
    return method == "POST" and path == "/runs" and isinstance(body, dict) and bool(body.get("run_id"))


def retryable(exc: BaseException) -> bool:
    """A throttled or failing stage (429, 5xx) or one that could not be reached."""
    if isinstance(exc, RemoteError):
        return exc.http_status == 429 or exc.http_status >= 500
    return isinstance(exc, StageUnreachableError)


def segment(text: str) -> str:
    """`text` as one URL path segment: a `#`, `?` or `/` in it cannot address another resource."""
    return quote(text, safe="")


class StageClient:
    """GET/POST against the stage's API, signed with the caller's AWS credentials."""

    def __init__(
        self,
        stage: StageInfo,
        session: boto3.Session | None = None,
        timeout_s: int = 35,
        connect_timeout_s: float = 5,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.stage = stage
        self.retry_policy = retry or DEFAULT_RETRY
        self.session = session or boto3.Session()
        # an unreachable host fails within `connect_timeout_s`; an answer may take up to API Gateway's 30 s
        self.connect_timeout_s = connect_timeout_s
        self.http = URLLib3Session(timeout=(connect_timeout_s, timeout_s))  # type: ignore[arg-type]

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """The API's answer to one call; an idempotent one is retried as `self.retry_policy` allows."""
        if not idempotent(method, path, body):
            return self._send(method, path, body)
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

        policy = self.retry_policy
        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.total_s),
            wait=self._wait,
            retry=retry_if_exception(retryable),
            before_sleep=lambda state: self._say_retrying(method, path, state),
            reraise=True,
        )
        return retrying(self._send, method, path, body)

    def _wait(self, state: RetryCallState) -> float:
        from tenacity import wait_exponential_jitter

        policy = self.retry_policy
        backoff = wait_exponential_jitter(multiplier=policy.base_s, max=policy.cap_s, jitter=policy.base_s)
        seconds = float(backoff(state))
        # never sleep past the total budget: the try after it would not be made
        left = policy.total_s - (time.monotonic() - state.start_time)
        return max(0.0, min(seconds, left))

    def _say_retrying(self, method: str, path: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        why = f"HTTP {exc.http_status}" if isinstance(exc, RemoteError) else "connection failed"
        seconds = state.next_action.sleep if state.next_action is not None else 0.0
        print(
            f"retrying {method} {path} ({why}, attempt {state.attempt_number + 1} of {self.retry_policy.attempts}, "
            f"in {seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )

    def _send(self, method: str, path: str, body: Any) -> Any:
        credentials = self.session.get_credentials()
        if credentials is None:
            raise CredentialsError(
                "No AWS credentials were found to sign the request to the stage's API.",
                hint="configure credentials (`aws configure`, AWS_PROFILE, or environment variables) "
                "for an identity allowed to invoke the stage's API.",
            )
        url = self.stage.api_url + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.stage.region).add_auth(request)
        try:
            response = self.http.send(request.prepare())
        except BotoCoreError as exc:
            raise StageUnreachableError(
                f"The stage's API at {self.stage.api_url} cannot be reached (connect timeout "
                f"{self.connect_timeout_s:g} s): {exc}",
                field="--endpoint",
                value=self.stage.api_url,
                hint="check the URL (the stack output `api_url`) and your network, then run the command again.",
            ) from exc
        try:
            answer = json.loads(response.content or b"null")
        except json.JSONDecodeError:
            answer = response.content.decode(errors="replace")
        if not 200 <= response.status_code < 300:
            raise RemoteError(response.status_code, answer, url)
        return answer

    def submit(self, payload: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("POST", "/runs", payload)
        return answer

    def status(self, run_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("GET", f"/runs/{segment(run_id)}")
        return answer

    def retry(self, run_id: str, force: bool = False) -> dict[str, Any]:
        query = "?force=true" if force else ""
        answer: dict[str, Any] = self.request("POST", f"/runs/{segment(run_id)}/retry{query}")
        return answer

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.request("GET", f"/runs?limit={limit}")
        return answer
