"""The objects of a ListObjectsV2 page read with one regular expression over the body, for the
pages S3 writes for sweep's keys: `<Contents>` elements one after another, each with only text
children. Any page it is not sure of (an object with an owner or restore status, a character
reference, whitespace between elements) is left to the XML parser: `scan` answers None."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from xml.sax.saxutils import unescape

_OPEN, _CLOSE = b"<Contents>", b"</Contents>"
_OBJECT = re.compile(
    rb"<Contents><Key>([^<]*)</Key><LastModified>([^<]*)</LastModified><ETag>([^<]*)</ETag>"
    rb"((?:<ChecksumAlgorithm>[^<]*</ChecksumAlgorithm>)*)(?:<ChecksumType>([^<]*)</ChecksumType>)?"
    rb"<Size>([0-9]+)</Size>(?:<StorageClass>([^<]*)</StorageClass>)?</Contents>"
)
_ALGORITHM = re.compile(rb"<ChecksumAlgorithm>([^<]*)</ChecksumAlgorithm>")
_ENTITIES = {"&quot;": '"', "&apos;": "'"}


def _text(raw: bytes) -> str:
    text = raw.decode()
    return unescape(text, _ENTITIES) if "&" in text else text


def scan(body: bytes, timestamp: Any) -> tuple[list[dict[str, Any]], bytes] | None:
    """(each object's members as botocore parses them, the body without its `<Contents>`), or None
    when the page is not one this reads whole. `timestamp` reads a `LastModified`."""
    first, last = body.find(_OPEN), body.rfind(_CLOSE)
    if first < 0 or last < first:
        return None
    end = last + len(_CLOSE)
    region = body[first:end]
    if b"&#" in region:  # a character reference: the XML parser's
        return None
    objects: list[dict[str, Any]] = []
    times: dict[bytes, datetime] = {}  # a page's objects share a few seconds
    at = 0
    for match in _OBJECT.finditer(region):
        if match.start() != at:
            return None
        at = match.end()
        key, modified, etag, algorithms, checksum_type, size, storage = match.groups()
        if (when := times.get(modified)) is None:
            when = times[modified] = timestamp(modified.decode())
        item: dict[str, Any] = {"Key": _text(key), "LastModified": when, "ETag": _text(etag), "Size": int(size)}
        if algorithms:
            item["ChecksumAlgorithm"] = [_text(a) for a in _ALGORITHM.findall(algorithms)]
        if checksum_type is not None:
            item["ChecksumType"] = _text(checksum_type)
        if storage is not None:
            item["StorageClass"] = _text(storage)
        objects.append(item)
    if at != len(region):
        return None
    return objects, body[:first] + body[end:]
