"""Names of the Pulumi stack outputs: the infrastructure program exports them, the CLI reads them."""

from __future__ import annotations

API_URL = "api_url"
REGION = "region"
RESULTS_BUCKET = "results_bucket"
GLUE_DATABASE = "glue_database"
ATHENA_WORKGROUP = "athena_workgroup"
PARAMETER_PREFIX = "parameter_prefix"
ORCHESTRATOR_FUNCTION = "orchestrator_function"
WORKER_FUNCTION = "worker_function"
SEARCH_FUNCTION = "search_function"
"""The search function's name (its logs: `/aws/lambda/<name>`)."""
ARTIFACT_BUCKET = "artifact_bucket"
SETTINGS_ADMIN_POLICY = "settings_admin_policy"
"""The managed policy to attach to operators who may change stage settings (`PUT /settings/{name}`)."""

ALL = (
    API_URL,
    REGION,
    RESULTS_BUCKET,
    GLUE_DATABASE,
    ATHENA_WORKGROUP,
    PARAMETER_PREFIX,
    ORCHESTRATOR_FUNCTION,
    WORKER_FUNCTION,
    SEARCH_FUNCTION,
    ARTIFACT_BUCKET,
    SETTINGS_ADMIN_POLICY,
)
