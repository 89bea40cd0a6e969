"""Version-gated contract: what `sweep_aws.s3_parser` takes from botocore's private internals.

The listing parser subclasses `RestXMLParser` and calls three of its private methods, and replaces
two private S3 handlers that botocore registers itself. A botocore release may rename or rework any
of them without notice; this test pins the range they were checked on and checks each is still
there and behaves as relied upon. When botocore is upgraded past the range: re-check the methods
and handlers named below against the new release (tests/functional/test_s3_parser.py compares the
whole parse with botocore's), then widen `SUPPORTED`."""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any

import botocore.handlers
import botocore.parsers
from botocore.model import OperationModel, ServiceModel

HANDLERS: Any = botocore.handlers  # its stubs leave out the private handlers

SUPPORTED = ((1, 35), (1, 45))
"""botocore releases `sweep_aws.s3_parser` was checked against: from 1.35 up to, not including, 1.45."""

RECHECK = (
    "re-check sweep_aws/s3_parser.py against this botocore: RestXMLParser._parse_payload, "
    "._initial_body_parse and ._parse_shape, and the handlers._handle_200_error and "
    "handlers.decode_list_object_v2 it replaces; then widen SUPPORTED in this test"
)


def minor(text: str) -> tuple[int, int]:
    major, minor_, *_ = text.split(".")
    return int(major), int(minor_)


def test_the_installed_botocore_is_in_the_checked_range() -> None:
    installed = version("botocore")
    low, high = SUPPORTED
    assert low <= minor(installed) < high, f"botocore {installed} is outside {low}..{high} (exclusive): {RECHECK}"


def test_the_parser_methods_it_calls_keep_their_signatures() -> None:
    # GIVEN the private methods ListingParser overrides or calls through `super()`
    expected = {
        "_parse_payload": ["self", "response", "shape", "member_shapes", "final_parsed"],
        "_initial_body_parse": ["self", "xml_string"],
        "_parse_shape": ["self", "shape", "node"],
    }
    # THEN each exists on RestXMLParser with the parameters it is called with
    found = {
        name: list(inspect.signature(getattr(botocore.parsers.RestXMLParser, name)).parameters)
        for name in expected
        if hasattr(botocore.parsers.RestXMLParser, name)
    }
    assert found == expected, RECHECK
    assert callable(getattr(botocore.parsers.ResponseParserFactory, "set_parser_defaults", None)), RECHECK


def test_the_initial_body_parse_gives_an_element_of_the_page_members() -> None:
    # WHEN a page body is parsed as ListingParser does before reading its members
    parser: Any = botocore.parsers.RestXMLParser()
    root = parser._initial_body_parse(
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><KeyCount>1</KeyCount>'
        b"<Contents><Key>a</Key></Contents></ListBucketResult>"
    )
    # THEN iterating it yields the members, tagged with their namespace
    assert [node.tag.rpartition("}")[2] for node in root] == ["KeyCount", "Contents"], RECHECK


def test_the_handlers_it_replaces_are_registered_where_it_unregisters_them() -> None:
    # GIVEN botocore's built-in handlers
    registered = {(event, handler) for event, handler, *_ in HANDLERS.BUILTIN_HANDLERS}
    # THEN the two that s3_parser.install swaps out are registered on the events it swaps them on
    assert ("before-parse.s3.*", HANDLERS._handle_200_error) in registered, RECHECK
    assert ("after-call.s3.ListObjectsV2", HANDLERS.decode_list_object_v2) in registered, RECHECK
    assert list(inspect.signature(HANDLERS._handle_200_error).parameters) == [
        "operation_model",
        "response_dict",
        "kwargs",
    ], RECHECK
    assert list(inspect.signature(HANDLERS.decode_list_object_v2).parameters) == [
        "parsed",
        "context",
        "kwargs",
    ], RECHECK


def listing_operation() -> OperationModel:
    from botocore.loaders import Loader

    model = ServiceModel(Loader().load_service_model("s3", "service-2"), "s3")
    return model.operation_model("ListObjectsV2")


def test_the_200_error_handler_turns_an_error_document_into_a_500_and_leaves_a_listing() -> None:
    # GIVEN a 200 answer to ListObjectsV2 carrying an error document, and one carrying a listing
    error = {"status_code": 200, "body": b"<Error><Code>InternalError</Code></Error>", "headers": {}}
    listing = {"status_code": 200, "body": b"<ListBucketResult></ListBucketResult>", "headers": {}}
    # WHEN botocore's handler sees them
    HANDLERS._handle_200_error(listing_operation(), error)
    HANDLERS._handle_200_error(listing_operation(), listing)
    # THEN the error is a 500 (retried), the listing stays a 200: what s3_parser.error_in_200 keeps
    assert (error["status_code"], listing["status_code"]) == (500, 200), RECHECK


def test_the_listing_decoder_decodes_only_what_botocore_asked_to_encode() -> None:
    # GIVEN a page URL-encoded because botocore asked for it, and one the caller asked for
    auto = {"EncodingType": "url", "Contents": [{"Key": "a%3Db"}], "Prefix": "p%2F"}
    asked = {"EncodingType": "url", "Contents": [{"Key": "a%3Db"}]}
    # WHEN botocore's decoder runs
    HANDLERS.decode_list_object_v2(auto, {"encoding_type_auto_set": True})
    HANDLERS.decode_list_object_v2(asked, {})
    # THEN it decodes the first only, as s3_parser.decode_listing does
    assert auto == {"EncodingType": "url", "Contents": [{"Key": "a=b"}], "Prefix": "p/"}, RECHECK
    assert asked["Contents"] == [{"Key": "a%3Db"}], RECHECK
