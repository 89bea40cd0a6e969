"""S3 clients read listing timestamps with the standard library (issue 11, item 5): botocore's
dateutil path cost ~0.2-0.6 ms per key, seconds for the listing of a 10,000-shard run."""

from __future__ import annotations

import pytest
from botocore.utils import parse_timestamp

from sweep_aws.s3_parser import iso_timestamp


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-22T04:47:21.000Z",  # a ListObjectsV2 LastModified
        "2026-11-22T04:47:21Z",
        "Sun, 22 Nov 2026 04:47:21 GMT",  # a Last-Modified header
        "1795322841",  # epoch seconds
        1795322841.0,
    ],
)
def test_every_timestamp_form_reads_as_botocore_reads_it(value: str | float) -> None:
    # WHEN sweep's parser and botocore's read the same value THEN they name the same instant
    assert iso_timestamp(value) == parse_timestamp(value)
    assert iso_timestamp(value).utcoffset() is not None
