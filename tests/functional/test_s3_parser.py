"""The listing parser (sweep_aws/s3_parser.py) reads every ListObjectsV2 page exactly as botocore
does: the same pages from moto, parsed by both, compare equal (issue 11, item 5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
from botocore import handlers
from botocore.handlers import _handle_200_error, decode_list_object_v2
from botocore.parsers import RestXMLParser
from moto import mock_aws

from sweep_aws._contents import scan
from sweep_aws.clients import s3_client
from sweep_aws.s3_parser import ListingParser, decode_listing, error_in_200, iso_timestamp
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
    # AND both of sweep's ways were taken: the scan of a plain page, the XML walk of the others
    scanned = [scan(page["body"], iso_timestamp) is not None for page in pages]
    assert sum(scanned) >= len(LISTINGS) - 3, scanned
    assert not scanned[LISTINGS.index({"FetchOwner": True})]


def test_an_error_page_is_botocores_error(pages: list[dict[str, Any]]) -> None:
    # GIVEN S3's answer for a bucket that does not exist
    shape = s3_client(region_name=REGION).meta.service_model.operation_model("ListObjectsV2").output_shape
    body = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>"
    page = {"status_code": 404, "headers": {}, "body": body}
    # THEN it parses as botocore parses it
    assert ListingParser().parse(page, shape) == RestXMLParser().parse(page, shape)


ENCODED_KEYS = [
    *KEYS,
    "odd/100%/a=b/c+d %2F.txt",
    "odd/%3D-literal",
    "outcomes/run_id=r/status=success/shard=00002.parquet",
]


def test_keys_are_url_decoded_as_botocore_decodes_them_issue_11() -> None:
    # GIVEN keys with every kind of escape S3 makes (spaces, `+`, `%`, `=`, `/`, unicode, a literal
    # `%3D`), url-encoded as S3 answers them when botocore asked for the encoding
    def page() -> dict[str, Any]:
        return {
            "EncodingType": "url",
            "Prefix": quote_plus("odd/a b"),
            "Contents": [{"Key": quote_plus(key)} for key in ENCODED_KEYS],
            "CommonPrefixes": [{"Prefix": quote_plus("odd/ü x/")}],
        }

    ours, theirs, context = page(), page(), {"encoding_type_auto_set": True}
    # WHEN sweep's handler and botocore's decode a page each
    decode_listing(ours, context)
    decode_list_object_v2(theirs, context)
    # THEN they agree, and every key is the one written
    assert ours == theirs
    assert [item["Key"] for item in ours["Contents"]] == ENCODED_KEYS
    # AND a page whose encoding the caller asked for is left as S3 sent it, as botocore leaves it
    untouched = page()
    decode_listing(untouched, {})
    assert untouched == page()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, b'<?xml version="1.0"?><ListBucketResult><Name>b</Name></ListBucketResult>\n', False),
        (200, b'<?xml version="1.0"?><ListBucketResult><Name>b</Name><Contents><Key>a', True),  # cut off
        (200, b'<?xml version="1.0"?><Error><Code>InternalError</Code></Error>', True),
        (503, b'<?xml version="1.0"?><Error><Code>SlowDown</Code></Error>', False),  # an error already
    ],
)
def test_a_listing_page_is_checked_for_an_error_in_a_200_as_botocore_checks_it_issue_11(
    status: int, body: bytes, error: bool
) -> None:
    # GIVEN an answer to ListObjectsV2, and the same answer for botocore's check
    operation = s3_client(region_name=REGION).meta.service_model.operation_model("ListObjectsV2")
    ours = {"status_code": status, "headers": {}, "body": body}
    theirs = dict(ours)
    # WHEN sweep's check and botocore's run on it
    error_in_200(operation, ours)
    _handle_200_error(operation, theirs)
    # THEN a 200 that holds an error or is cut off becomes a 500 (retried) in both, and the rest is unchanged
    assert ours == theirs
    assert (ours["status_code"] == 500) == error


def test_a_complete_listing_page_is_parsed_once_issue_11(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN botocore's check for an error in a 200 answer, which parses the whole body, made to
    # fail on a listing page (other answers are still checked by it)
    botocores = handlers._looks_like_special_case_error

    def refuse(status_code: int, body: bytes) -> bool:
        assert b"ListBucketResult" not in body, "botocore parsed the page a second time"
        return bool(botocores(status_code, body))

    monkeypatch.setattr(handlers, "_looks_like_special_case_error", refuse)
    with mock_aws():
        client = s3_client(region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="runs/run_id=r/manifest.json", Body=b"{}")
        # WHEN a client sweep builds lists a prefix
        page = client.list_objects_v2(Bucket=BUCKET, Prefix="runs/")
    # THEN the page was read, and parsed by sweep's parser alone
    assert [item["Key"] for item in page["Contents"]] == ["runs/run_id=r/manifest.json"]
