"""botocore's S3 response parser, with the keys of a ListObjectsV2 page read in a tight loop.

Status lists every outcome and points key of a run (20,000 keys at 10,000 shards). botocore's
generic XML walk costs ~50 µs a key and its dateutil timestamps another ~150 µs (more on a busy
machine), seconds a status; this reads the fields of a listed object directly and hands every
other member, of the page and of each object, to botocore's own code. Errors, and every other
operation, are botocore's. tests/functional/test_s3_parser.py holds it equal to botocore's parse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.model import Shape, StructureShape
from botocore.parsers import ResponseParser, ResponseParserFactory, RestXMLParser
from botocore.utils import parse_timestamp

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
    """The rest-xml parser; a successful ListObjectsV2 page's body is read by `_listed`."""

    def _parse_payload(
        self, response: dict[str, Any], shape: StructureShape, member_shapes: dict[str, Shape], final_parsed: Any
    ) -> None:
        base: Any = super()  # botocore's stubs leave out the parsers' internals
        if shape.name != "ListObjectsV2Output":
            base._parse_payload(response, shape, member_shapes, final_parsed)
            return
        for node in base._initial_body_parse(response["body"]):
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
