"""botocore's S3 response parser, with the keys of a ListObjectsV2 page read in a tight loop.

Status lists every outcome and points key of a run (20,000 keys at 10,000 shards). botocore's
generic XML walk costs ~50 µs a key and its dateutil timestamps another ~150 µs (more on a busy
machine), seconds a status; this reads the fields of a listed object directly and hands every
other member, of the page and of each object, to botocore's own code. Errors, and every other
operation, are botocore's. tests/functional/test_s3_parser.py holds it equal to botocore's parse.

Two of botocore's S3 handlers are replaced for ListObjectsV2 by equivalents that cost less a page:
its check for an error inside a 200 answer (`error_in_200`) parsed every page a second time, and
its URL-decoding of keys (`decode_listing`) ran `unquote_plus` on every one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore import handlers as _handlers
from botocore.compat import unquote_str
from botocore.model import OperationModel, Shape, StructureShape
from botocore.parsers import ResponseParser, ResponseParserFactory, RestXMLParser
from botocore.utils import parse_timestamp

from sweep_aws._contents import scan

_TEXT = frozenset({"Key", "ETag", "StorageClass", "ChecksumType"})


def iso_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, with ISO 8601 (every `LastModified` of a listing) read by the
    standard library: botocore's own goes through dateutil at ~0.2-0.6 ms a timestamp."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)  # Python >= 3.11 reads the `Z` S3 writes
        except ValueError:
            pass
    return parse_timestamp(value)  # RFC 822 headers, epochs


class ListingParser(RestXMLParser):
    """The rest-xml parser; a successful ListObjectsV2 page's objects are read by `_contents.scan`,
    or by `_listed` when the page is not one it reads whole."""

    def _parse_payload(
        self, response: dict[str, Any], shape: StructureShape, member_shapes: dict[str, Shape], final_parsed: Any
    ) -> None:
        base: Any = super()  # botocore's stubs leave out the parsers' internals
        if shape.name != "ListObjectsV2Output":
            base._parse_payload(response, shape, member_shapes, final_parsed)
            return
        body = response["body"]
        scanned = scan(body, iso_timestamp) if response.get("status_code") == 200 else None
        if scanned is not None:  # the objects read by `_contents.scan`, the page's other members here
            final_parsed["Contents"], body = scanned
        for node in base._initial_body_parse(body):
            name = node.tag.rpartition("}")[2]
            member: Any = member_shapes.get(name)
            if member is None:
                continue
            if name == "Contents":
                final_parsed.setdefault(name, []).append(self._listed(member.member, node))
            elif member.type_name == "list":  # flattened (CommonPrefixes): one element per item
                final_parsed.setdefault(name, []).append(base._parse_shape(member.member, node))
            else:
                final_parsed[name] = base._parse_shape(member, node)

    def _listed(self, shape: StructureShape, node: Any) -> dict[str, Any]:
        base: Any = super()
        item: dict[str, Any] = {}
        for child in node:
            name = child.tag.rpartition("}")[2]
            member: Any = shape.members.get(name)
            if name in _TEXT:
                item[name] = child.text or ""
            elif name == "Size":
                item[name] = int(child.text)
            elif name == "LastModified":
                item[name] = iso_timestamp(child.text)
            elif member is not None and member.type_name == "list":  # flattened (ChecksumAlgorithm)
                item.setdefault(name, []).append(base._parse_shape(member.member, child))
            elif member is not None:  # Owner, RestoreStatus: rare, and botocore's
                item[name] = base._parse_shape(member, child)
        return item


class ListingParserFactory(ResponseParserFactory):
    """Parsers with `iso_timestamp`, and `ListingParser` for S3's protocol."""

    def __init__(self) -> None:
        super().__init__()
        self.set_parser_defaults(timestamp_parser=iso_timestamp)

    def create_parser(self, protocol_name: str) -> ResponseParser:
        if protocol_name == "rest-xml":
            return ListingParser(timestamp_parser=iso_timestamp)
        return super().create_parser(protocol_name)


_LISTING_END = b"</ListBucketResult>"
_BOTOCORE: Any = _handlers  # its stubs leave out the private handlers replaced here


def error_in_200(operation_model: OperationModel, response_dict: dict[str, Any] | None, **kwargs: Any) -> None:
    """botocore's `_handle_200_error` (an error document or a cut-off body in a 200 answer becomes
    a 500, which is retried), without parsing a complete listing page twice: a 200 body whose
    document closes with `</ListBucketResult>` is neither, and `ListingParser` parses it next."""
    if (
        operation_model.name == "ListObjectsV2"
        and response_dict
        and response_dict.get("status_code") == 200
        and bytes(response_dict.get("body") or b"").rstrip().endswith(_LISTING_END)
    ):
        return
    _BOTOCORE._handle_200_error(operation_model, response_dict, **kwargs)


def _unquote(text: str) -> str:
    # S3 escapes the `=` and `/` of sweep's keys; these two replacements decode most keys whole
    # (a `%` only ever starts an escape in an encoded key, so they cannot misread one)
    text = text.replace("%3D", "=").replace("%2F", "/")
    return unquote_str(text) if "%" in text or "+" in text else text


def decode_listing(parsed: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
    """botocore's `decode_list_object_v2`: the same members URL-decoded, when botocore asked for the
    encoding (it always does, unless the caller did), at a fraction of the cost a key."""
    if parsed.get("EncodingType") != "url" or not context.get("encoding_type_auto_set"):
        return
    for name in ("Delimiter", "Prefix", "StartAfter"):
        if name in parsed:
            parsed[name] = unquote_str(parsed[name])
    for item in parsed.get("Contents", ()):
        item["Key"] = _unquote(item["Key"])
    for item in parsed.get("CommonPrefixes", ()):
        item["Prefix"] = unquote_str(item["Prefix"])


def install(session: Any) -> None:
    """Replace botocore's two listing handlers with these on `session` (its clients only)."""
    session.unregister("before-parse.s3.*", _BOTOCORE._handle_200_error)
    session.register("before-parse.s3.*", error_in_200)
    session.unregister("after-call.s3.ListObjectsV2", _BOTOCORE.decode_list_object_v2)
    session.register("after-call.s3.ListObjectsV2", decode_listing)
