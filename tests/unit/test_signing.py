"""The apim signature and token-service encryption (spec 2.5), pinned by literal digests."""

from __future__ import annotations

import hashlib

import pytest

from flowyard.domain.signing import (
    digests_equal,
    is_hex_digest,
    params_data,
    request_signature,
    token_encryption,
)

# The worked example of the EnOS docs; it reproduces only with the Chinese body.
DOC_BODY = '{\n  "count": 20,\n  "page": 1,\n  "desc": "描述"\n}'.encode()
DOC_QUERY = [("k3", "v3"), ("k1", "v1"), ("k2", "v2")]
DOC_SIGNATURE = "59828328f6c1f9771015dc74e4929ae30f518a35a3d2353972c2ea46556fc981"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_documented_example() -> None:
    signature = request_signature("xxxxaaaxxxx", DOC_QUERY, DOC_BODY, 1572574909697, "xxxappSecretxxx")
    assert signature == DOC_SIGNATURE


def test_documented_example_with_timestamp_as_header_text() -> None:
    signature = request_signature("xxxxaaaxxxx", DOC_QUERY, DOC_BODY, "1572574909697", "xxxappSecretxxx")
    assert signature == DOC_SIGNATURE


def test_english_doc_body_does_not_reproduce_the_documented_hash() -> None:
    body = DOC_BODY.replace("描述".encode(), b"description")
    assert (
        request_signature("xxxxaaaxxxx", DOC_QUERY, body, 1572574909697, "xxxappSecretxxx") != DOC_SIGNATURE
    )


def test_body_whitespace_is_significant() -> None:
    compact = b'{"count":20,"page":1,"desc":"\xe6\x8f\x8f\xe8\xbf\xb0"}'
    assert request_signature("xxxxaaaxxxx", DOC_QUERY, compact, 1572574909697, "xxxappSecretxxx") != (
        DOC_SIGNATURE
    )


def test_token_encryption_literal() -> None:
    assert token_encryption("myKey", 1572574909697, "mySecret") == (
        "a8b570e0a912e4909113780fd49135c038d9c33a3ae19649d16493d40daaac22"
    )


def test_token_encryption_is_sha256_of_concatenation() -> None:
    assert token_encryption("k", 12, "s") == sha(b"k12s")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([], b""),
        # ASCII order: upper case before lower case, digits before letters.
        ([("b", "2"), ("B", "1"), ("a1", "x"), ("a", "y")], b"B1ay" + b"a1x" + b"b2"),
        # action, userId and orgId take part like any other parameter.
        (
            [("userId", "u1"), ("action", "get"), ("orgId", "o1"), ("flowId", "7")],
            b"actiongetflowId7orgIdo1userIdu1",
        ),
        # A blank value contributes its name alone.
        ([("maxLength", ""), ("action", "getLog")], b"actiongetLogmaxLength"),
        # Repeated names keep their URL order (stable sort).
        ([("k", "2"), ("a", "0"), ("k", "1")], b"a0k2k1"),
        # Values are the decoded text, encoded as UTF-8.
        ([("q", "a b&c"), ("n", "描述")], "n描述qa b&c".encode()),
    ],
)
def test_params_data(query: list[tuple[str, str]], expected: bytes) -> None:
    assert params_data(query) == expected


def test_signature_layout() -> None:
    query = [("orgId", "o1"), ("action", "get")]
    expected = sha(b"TOKEN" + b"actiongetorgIdo1" + b"BODY" + b"123" + b"SECRET")
    assert request_signature("TOKEN", query, b"BODY", 123, "SECRET") == expected


def test_body_that_is_not_utf8_is_hashed_as_sent() -> None:
    body = b"\xff\xfe\x00not utf-8"
    expected = sha(b"T" + body + b"1" + b"S")
    assert request_signature("T", [], body, 1, "S") == expected


def test_query_order_in_url_does_not_matter() -> None:
    forward = request_signature("T", [("a", "1"), ("b", "2")], b"", 1, "S")
    backward = request_signature("T", [("b", "2"), ("a", "1")], b"", 1, "S")
    assert forward == backward


def test_any_change_changes_the_signature() -> None:
    base = request_signature("T", [("a", "1")], b"{}", 1, "S")
    assert request_signature("T2", [("a", "1")], b"{}", 1, "S") != base
    assert request_signature("T", [("a", "2")], b"{}", 1, "S") != base
    assert request_signature("T", [("a", "1")], b"{ }", 1, "S") != base
    assert request_signature("T", [("a", "1")], b"{}", 2, "S") != base
    assert request_signature("T", [("a", "1")], b"{}", 1, "S2") != base


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DOC_SIGNATURE, True),
        (DOC_SIGNATURE.upper(), True),
        (DOC_SIGNATURE[:-1], False),
        (DOC_SIGNATURE + "0", False),
        ("g" * 64, False),
        ("", False),
    ],
)
def test_is_hex_digest(value: str, expected: bool) -> None:
    assert is_hex_digest(value) is expected


def test_digests_equal_ignores_case_only() -> None:
    assert digests_equal(DOC_SIGNATURE, DOC_SIGNATURE.upper())
    assert not digests_equal(DOC_SIGNATURE, DOC_SIGNATURE[:-1] + "0")
    assert not digests_equal(DOC_SIGNATURE, "描述")
