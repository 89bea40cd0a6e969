"""The listing parser (sweep_aws/s3_parser.py) reads every ListObjectsV2 page exactly as botocore
does: the same pages from moto, parsed by both, compare equal (issue 11, item 5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.parsers import RestXMLParser
from moto import mock_aws

from sweep_aws.clients import s3_client
from sweep_aws.s3_parser import ListingParser, iso_timestamp
from tests.cloud import BUCKET, REGION

KEYS = [
    "outcomes/run_id=r/status=success/shard=00000.parquet",
    "outcomes/run_id=r/status=failure/shard=00001.parquet",
    "points/run_id=r/shard=00000-0123456789abcdef-ok3-error1.parquet",
    "odd/a key with spaces+plus&amp<lt>.txt",
    "odd/ünïcode/ключ.txt",
    "odd/empty",
]
LISTINGS: list[dict[str, Any]] = [
    {},
    {"Prefix": "outcomes/run_id=r/"},
    {"Prefix": "odd/"},
    {"Delimiter": "/"},  # CommonPrefixes
    {"MaxKeys": 2},  # truncated, with a continuation token
    {"MaxKeys": 2, "StartAfter": "odd/"},
    {"FetchOwner": True},  # each object's Owner
    {"Prefix": "nothing/"},  # no Contents at all
    {"EncodingType": "url", "Prefix": "odd/"},
]


@pytest.fixture
def pages(aws_env: None) -> Iterator[list[dict[str, Any]]]:
    """The raw response of each listing in `LISTINGS`, as botocore's parser receives it."""
    with mock_aws():
        client = s3_client(region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        for key in KEYS:
            client.put_object(Bucket=BUCKET, Key=key, Body=key.encode(), ChecksumAlgorithm="SHA256")
        raw: list[dict[str, Any]] = []
        client.meta.events.register(
            "before-parse.s3.ListObjectsV2", lambda response_dict, **_: raw.append(dict(response_dict))
        )
        for listing in LISTINGS:
            client.list_objects_v2(Bucket=BUCKET, **listing)
        yield raw


def test_every_listing_parses_as_botocore_parses_it_issue_11(pages: list[dict[str, Any]]) -> None:
    # GIVEN the raw pages of nine listings (special characters, delimiters, truncation, owners,
    # checksums, an empty page, url encoding) and botocore's own S3 parser
    shape = s3_client(region_name=REGION).meta.service_model.operation_model("ListObjectsV2").output_shape
    botocores = RestXMLParser(timestamp_parser=iso_timestamp)
    assert len(pages) == len(LISTINGS)
    for page in pages:
        # WHEN both parse a page
        ours, theirs = ListingParser().parse(page, shape), botocores.parse(page, shape)
        # THEN they agree on everything, and the page was not trivially empty of what it tests
        assert ours == theirs
    assert any(len(ListingParser().parse(page, shape).get("Contents", [])) == len(KEYS) for page in pages)


def test_an_error_page_is_botocores_error(pages: list[dict[str, Any]]) -> None:
    # GIVEN S3's answer for a bucket that does not exist
    shape = s3_client(region_name=REGION).meta.service_model.operation_model("ListObjectsV2").output_shape
    body = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>"
    page = {"status_code": 404, "headers": {}, "body": body}
    # THEN it parses as botocore parses it
    assert ListingParser().parse(page, shape) == RestXMLParser().parse(page, shape)
