"""The OpenAPI document of the HTTP API, generated from the routes (Powertools) and the request
model, and kept in the repo as `docs/openapi.json` (a test fails when it is out of date).

    uv run python -m sweep_orchestrator.openapi > docs/openapi.json
"""

from __future__ import annotations

import json
from typing import Any

from sweep_contracts.request import SweepRequest
from sweep_contracts.search import SearchRequest
from sweep_contracts.version import code_version
from sweep_orchestrator.api import app

SIGV4 = {
    "type": "apiKey",
    "name": "Authorization",
    "in": "header",
    "description": "AWS Signature Version 4 (the routes use API Gateway's AWS_IAM authorization); "
    "the caller needs execute-api:Invoke on the stage's API.",
    "x-amazon-apigateway-authtype": "awsSigv4",
}


def openapi_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title="sweep",
            version=code_version()["sweep"],
            description="Run parameter sweeps on AWS Lambda: submit a sweep, follow its progress, retry "
            "what failed. Results land as Parquet in S3 and are queried with Athena.",
        )
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (SweepRequest, SearchRequest):  # a body with `search:` is a search
        request_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(request_schema.pop("$defs", {}))
        schemas[model.__name__] = request_schema
    bodies = [{"$ref": "#/components/schemas/SweepRequest"}, {"$ref": "#/components/schemas/SearchRequest"}]
    document["paths"]["/runs"]["post"]["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": bodies}}},
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            # Powertools documents a 422 for its parameter validation, which `api.invalid_parameters`
            # answers as a 400 with the ErrorBody of every other error: 422 never reaches a caller
            operation["responses"].pop("422", None)
    document["components"]["securitySchemes"] = {"sigv4": SIGV4}
    document["security"] = [{"sigv4": []}]
    return document


def main() -> None:
    print(json.dumps(openapi_document(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
