"""The stage's HTTP API, called with SigV4-signed requests (the routes use AWS_IAM authorization)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError
from botocore.httpsession import URLLib3Session

from sweep_cli.errors import CredentialsError, RemoteError, StageUnreachableError
from sweep_cli.stage import StageInfo


def segment(text: str) -> str:
    """`text` as one URL path segment: a `#`, `?` or `/` in it cannot address another resource."""
    return quote(text, safe="")


class StageClient:
    """GET/POST against the stage's API, signed with the caller's AWS credentials."""

    def __init__(
        self, stage: StageInfo, session: boto3.Session | None = None, timeout_s: int = 35, connect_timeout_s: float = 5
    ) -> None:
        self.stage = stage
        self.session = session or boto3.Session()
        # an unreachable host fails within `connect_timeout_s`; an answer may take up to API Gateway's 30 s
        self.connect_timeout_s = connect_timeout_s
        self.http = URLLib3Session(timeout=(connect_timeout_s, timeout_s))  # type: ignore[arg-type]

    def request(self, method: str, path: str, body: Any = None) -> Any:
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
