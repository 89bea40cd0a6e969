"""Names of the environment variables sweep reads, in one place. Each is read once, at cold start."""

from __future__ import annotations

STAGE = "SWEEP_STAGE"
"""Stage name (`dev`, `prod`), for logs and the default parameter prefix."""
PARAMETER_PREFIX = "SWEEP_PARAMETER_PREFIX"
"""SSM path of the stage settings, e.g. `/sweep/dev/`; secrets sit under `<prefix>secrets/`."""
STORE = "SWEEP_STORE"
"""Where runs live: `s3://bucket[/prefix]` or a local directory."""
WORKER_FUNCTION = "SWEEP_WORKER_FUNCTION"
"""Name or ARN of the worker Lambda the orchestrator invokes."""
ORCHESTRATOR_FUNCTION = "SWEEP_ORCHESTRATOR_FUNCTION"
"""Name or ARN of the orchestrator itself, for the dispatch fan-out tree."""
SEARCH_FUNCTION = "SWEEP_SEARCH_FUNCTION"
"""Name or ARN of the search function (a search's rounds step, shipping Optuna), which the
orchestrator invokes with a `SearchStepEvent` when a search is submitted or retried."""
CODE_VERSION = "SWEEP_CODE_VERSION"
"""Version of the deployed code (artifact hash), recorded in every manifest."""
SETTINGS_TTL = "SWEEP_SETTINGS_TTL_S"
"""Seconds the stage settings are cached (default 300)."""
LAMBDA_FUNCTION = "AWS_LAMBDA_FUNCTION_NAME"
"""Set by Lambda in every function's environment: code that reads it knows it runs on a stage."""
SECRET_PREFIX = "SWEEP_SECRET_"  # noqa: S105 - a variable-name prefix, not a secret
"""Local runs: an experiment's secret `api_key` is read from `SWEEP_SECRET_API_KEY`."""

# --- the `sweep` command line ------------------------------------------------------------------
# Read by the CLI only, each where its option is parsed; flags beat them, they beat stack outputs.

OUT = "SWEEP_OUT"
"""The local results directory (`--out`)."""
API_URL = "SWEEP_API_URL"
"""A stage's API URL (its `api_url` stack output), instead of asking Pulumi."""
REGION = "SWEEP_REGION"
"""A stage's AWS region (before `AWS_REGION` / `AWS_DEFAULT_REGION`)."""
RESULTS_BUCKET = "SWEEP_RESULTS_BUCKET"
"""A stage's results bucket, for `sweep results --local` downloads."""
GLUE_DATABASE = "SWEEP_GLUE_DATABASE"
"""A stage's Glue database, for Athena queries."""
ATHENA_WORKGROUP = "SWEEP_ATHENA_WORKGROUP"
"""A stage's Athena workgroup, for Athena queries."""
PULUMI_DIR = "SWEEP_PULUMI_DIR"
"""Where `Pulumi.yaml` is, when the CLI runs outside the sweep repository."""
AWS_REGIONS = ("AWS_REGION", "AWS_DEFAULT_REGION")
"""The AWS SDK's own region variables, the last places a region is looked for."""

# --- deploys -----------------------------------------------------------------------------------

ARTIFACTS_DIR = "SWEEP_ARTIFACTS_DIR"
"""Deploys: prebuilt Lambda artifacts (`make package`) when the stack config names none (`make deploy` sets it)."""
