"""ListObjectsV2, ListObjects and ListObjectVersions: keys under a prefix, grouped by a delimiter, paged."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kmslab.cloud.errors import CloudError, xml_text
from kmslab.cloud.s3.store import S3Store

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def iso(epoch: float) -> str:
    """Format a timestamp as S3's XML does.

    Args:
        epoch: seconds since the epoch.

    Returns:
        ``YYYY-MM-DDTHH:MM:SS.mmmZ``.
    """
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"


def _max_keys(params: dict[str, str]) -> int:
    raw = params.get("max-keys", "1000")
    try:
        value = int(raw)
    except ValueError:
        raise CloudError("InvalidArgument", "Provided max-keys not an integer or within integer range", 400) from None
    if value < 0:
        raise CloudError("InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647", 400)
    return min(value, 1000)


def _walk(
    store: S3Store, bucket: str, prefix: str, delimiter: str, after: str, limit: int
) -> tuple[list[tuple[str, dict[str, Any]]], list[str], str | None]:
    contents: list[tuple[str, dict[str, Any]]] = []
    prefixes: list[str] = []
    last: str | None = None
    count = 0
    for key, doc in store.list_latest(bucket, prefix, after):
        if doc.get("delete_marker"):
            continue
        if delimiter:
            idx = key.find(delimiter, len(prefix))
            if idx >= 0:
                common = key[: idx + len(delimiter)]
                if prefixes and prefixes[-1] == common:
                    continue
                if last is not None and last >= common:
                    continue
                if count >= limit:
                    return contents, prefixes, last
                prefixes.append(common)
                last = common
                count += 1
                continue
        if count >= limit:
            return contents, prefixes, last
        contents.append((key, doc))
        last = key
        count += 1
    return contents, prefixes, None


def _skip_group(after: str, delimiter: str, prefix: str) -> str:
    """Continue after a common prefix: skip every key under it."""
    if delimiter and after.endswith(delimiter) and after.startswith(prefix):
        return after + "\U0010ffff"
    return after


def _content(key: str, doc: dict[str, Any], encode: bool) -> str:
    name = xml_text(_enc(key, encode))
    return (
        f"<Contents><Key>{name}</Key><LastModified>{iso(doc['last_modified'])}</LastModified>"
        f"<ETag>&quot;{doc['etag']}&quot;</ETag><Size>{doc['size']}</Size><StorageClass>STANDARD</StorageClass></Contents>"
    )


def _enc(value: str, encode: bool) -> str:
    from urllib.parse import quote

    return quote(value, safe="/") if encode else value


@dataclass(frozen=True)
class _Page:
    """One page of ListObjects or ListObjectsV2: the keys and common prefixes after a point."""

    prefix: str
    delimiter: str
    encode: bool
    limit: int
    contents: list[tuple[str, dict[str, Any]]]
    prefixes: list[str]
    next_after: str | None

    def head(self, bucket: str) -> str:
        """The result's opening: its element, Name and Prefix."""
        return (
            f'<ListBucketResult xmlns="{_NS}"><Name>{xml_text(bucket)}</Name><Prefix>'
            f"{xml_text(_enc(self.prefix, self.encode))}</Prefix>"
        )

    def truncated(self) -> str:
        """The IsTruncated element."""
        return f"<IsTruncated>{'true' if self.next_after is not None else 'false'}</IsTruncated>"

    def delimiter_element(self) -> str:
        """The Delimiter element, when the request grouped by one."""
        return f"<Delimiter>{xml_text(_enc(self.delimiter, self.encode))}</Delimiter>" if self.delimiter else ""

    def tail(self) -> list[str]:
        """The result's Contents, CommonPrefixes and closing."""
        parts = [_content(k, d, self.encode) for k, d in self.contents]
        parts += [
            f"<CommonPrefixes><Prefix>{xml_text(_enc(p, self.encode))}</Prefix></CommonPrefixes>" for p in self.prefixes
        ]
        parts.append("</ListBucketResult>")
        return parts


def _page(store: S3Store, bucket: str, params: dict[str, str], after: str, limit: int) -> _Page:
    prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
    encode = params.get("encoding-type") == "url"
    contents, prefixes, next_after = _walk(
        store, bucket, prefix, delimiter, _skip_group(after, delimiter, prefix), limit
    )
    return _Page(prefix, delimiter, encode, limit, contents, prefixes, next_after)


def list_v2(store: S3Store, bucket: str, params: dict[str, str]) -> str:
    """Answer ListObjectsV2.

    Args:
        store: the store.
        bucket: the bucket.
        params: the query parameters.

    Returns:
        The XML body.
    """
    limit = _max_keys(params)
    token = params.get("continuation-token")
    if token is not None:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise CloudError("InvalidArgument", "The continuation token provided is incorrect", 400) from None
    else:
        after = params.get("start-after", "")
    page = _page(store, bucket, params, after, limit)
    parts = [
        page.head(bucket),
        f"<MaxKeys>{limit}</MaxKeys><KeyCount>{len(page.contents) + len(page.prefixes)}</KeyCount>",
        page.truncated(),
        page.delimiter_element(),
    ]
    if page.encode:
        parts.append("<EncodingType>url</EncodingType>")
    if token is not None:
        parts.append(f"<ContinuationToken>{xml_text(token)}</ContinuationToken>")
    if "start-after" in params:
        parts.append(f"<StartAfter>{xml_text(_enc(params['start-after'], page.encode))}</StartAfter>")
    if page.next_after is not None:
        next_token = base64.urlsafe_b64encode(page.next_after.encode()).decode()
        parts.append(f"<NextContinuationToken>{next_token}</NextContinuationToken>")
    return "".join(parts + page.tail())


def list_v1(store: S3Store, bucket: str, params: dict[str, str]) -> str:
    """Answer ListObjects (version 1).

    Args:
        store: the store.
        bucket: the bucket.
        params: the query parameters.

    Returns:
        The XML body.
    """
    limit = _max_keys(params)
    marker = params.get("marker", "")
    page = _page(store, bucket, params, marker, limit)
    parts = [
        page.head(bucket),
        f"<Marker>{xml_text(_enc(marker, page.encode))}</Marker><MaxKeys>{limit}</MaxKeys>",
        page.truncated(),
        page.delimiter_element(),
    ]
    if page.delimiter and page.next_after is not None:
        parts.append(f"<NextMarker>{xml_text(_enc(page.next_after, page.encode))}</NextMarker>")
    return "".join(parts + page.tail())


def list_versions(store: S3Store, bucket: str, params: dict[str, str]) -> str:
    """Answer ListObjectVersions (every version under the prefix, up to max-keys; no delimiter grouping).

    Args:
        store: the store.
        bucket: the bucket.
        params: the query parameters.

    Returns:
        The XML body.
    """
    prefix = params.get("prefix", "")
    limit = _max_keys(params)
    rows = store.list_versions(bucket, prefix)
    key_marker, vid_marker = params.get("key-marker", ""), params.get("version-id-marker", "")
    if key_marker:
        start = 0
        for i, (key, _, doc) in enumerate(rows):
            if key > key_marker or (key == key_marker and vid_marker and doc["version_id"] == vid_marker):
                start = i + (1 if key == key_marker else 0)
                break
        else:
            start = len(rows)
        rows = rows[start:]
    page, rest = rows[:limit], rows[limit:]
    parts = [
        f'<ListVersionsResult xmlns="{_NS}"><Name>{xml_text(bucket)}</Name><Prefix>{xml_text(prefix)}</Prefix>',
        f"<MaxKeys>{limit}</MaxKeys><IsTruncated>{'true' if rest else 'false'}</IsTruncated>",
    ]
    if rest and page:
        parts.append(
            f"<NextKeyMarker>{xml_text(page[-1][0])}</NextKeyMarker><NextVersionIdMarker>{page[-1][2]['version_id']}</NextVersionIdMarker>"
        )
    for key, latest, doc in page:
        head = (
            f"<Key>{xml_text(key)}</Key><VersionId>{doc['version_id']}</VersionId><IsLatest>"
            f"{'true' if latest else 'false'}</IsLatest><LastModified>{iso(doc['last_modified'])}</LastModified>"
        )
        if doc.get("delete_marker"):
            parts.append(f"<DeleteMarker>{head}</DeleteMarker>")
        else:
            parts.append(
                f"<Version>{head}<ETag>&quot;{doc['etag']}&quot;</ETag><Size>{doc['size']}</Size><StorageClass>STANDARD</StorageClass></Version>"
            )
    parts.append("</ListVersionsResult>")
    return "".join(parts)
