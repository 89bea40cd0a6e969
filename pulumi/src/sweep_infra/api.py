"""The HTTP API: API Gateway HTTP API in front of the orchestrator, AWS_IAM on every route, a
`$default` stage with access logs and throttling, and a Lambda permission scoped to this API."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

ADMIN_ROUTE = "PUT /settings/{name}"
"""A route of its own, so that changing stage settings can be granted apart from using the API."""
ROUTES = ("POST /runs", "GET /runs", "GET /runs/{run_id}", "POST /runs/{run_id}/retry", "GET /settings", ADMIN_ROUTE)
INTEGRATION_TIMEOUT_MS = 30_000  # API Gateway's ceiling: POST /runs answers well within it
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "user": "$context.identity.userArn",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
        "latencyMs": "$context.responseLatency",
    },
    sort_keys=True,
)


@dataclass(frozen=True)
class HttpApiArgs:
    name: str
    function_name: pulumi.Input[str]
    function_arn: pulumi.Input[str]
    burst_limit: int
    rate_limit: float
    log_retention_days: int
    tags: dict[str, str]


class HttpApi(pulumi.ComponentResource):
    def __init__(self, name: str, args: HttpApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sweep:api:HttpApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=args.name,
            protocol_type="HTTP",
            description="sweep: submit runs, follow them, retry them (SigV4 / AWS_IAM)",
            tags=args.tags,
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=args.function_arn,
            payload_format_version="2.0",
            timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
            opts=child,
        )
        self.routes = {
            key: aws.apigatewayv2.Route(
                f"{name}-route-{key.lower().replace(' /', '-').replace('/', '-').replace('{', '').replace('}', '')}",
                api_id=self.api.id,
                route_key=key,
                authorization_type="AWS_IAM",
                target=integration.id.apply(lambda i: f"integrations/{i}"),
                opts=child,
            )
            for key in ROUTES
        }
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{args.name}",
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=child,
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_burst_limit=args.burst_limit, throttling_rate_limit=args.rate_limit
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.routes.values())),
        )
        aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=args.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=self.api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
            opts=child,
        )
        method, path = ADMIN_ROUTE.split(" ")
        self.admin_policy = aws.iam.Policy(
            f"{name}-settings-admin",
            name=f"{args.name}-settings-admin",
            description="Attach to operators who may change this stage's settings (PUT /settings/{name}).",
            policy=self.api.execution_arn.apply(
                lambda arn: json.dumps(settings_admin_policy(f"{arn}/*/{method}{path.replace('{name}', '*')}"))
            ),
            tags=args.tags,
            opts=child,
        )
        self.url = self.api.api_endpoint
        self.register_outputs({"url": self.url, "admin_policy": self.admin_policy.arn})


def settings_admin_policy(route_arn: str) -> dict[str, object]:
    """Invoke only the admin route: callers who may submit runs are not thereby allowed this."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ChangeStageSettings", "Effect": "Allow", "Action": ["execute-api:Invoke"], "Resource": [route_arn]}
        ],
    }
