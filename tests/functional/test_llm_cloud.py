"""The seeds' options study through the Lambda handlers under moto, against the loopback Ollama."""

from __future__ import annotations

from moto import mock_aws

from tests.llm_fake import FakeModelServer
from tests.llm_helpers import study, study_in_the_cloud


def test_the_options_study_runs_through_the_lambda_handlers(aws_env: None) -> None:
    # GIVEN a stage whose API key is a SecureString, and an Ollama on loopback
    with mock_aws(), FakeModelServer().running() as ollama:
        # WHEN examples/llm-options-study.yaml is posted and every shard runs in the worker handler
        # THEN 12 rows, each with its own options, the key in the header and in no object written
        study_in_the_cloud(study(ollama.url, "qwen2.5:7b"), ollama)
