"""The ACS3-HMAC-SHA256 check against requests recorded from the official DataWorks SDK.

How the recordings were made (the script lives outside the repository): in a throwaway venv,
``pip install alibabacloud-dataworks-public20240518`` (9.11.0, with alibabacloud-tea-openapi 0.4.6,
darabonba-core 1.0.9), a ``http.server.ThreadingHTTPServer`` on 127.0.0.1 recorded each request
(method, raw request target, headers in wire order via ``headers.raw_items()``, body bytes) while
the SDK ``Client`` (endpoint ``127.0.0.1:<port>``, protocol ``http``, AccessKey
``LTAI5tFlowyardTestKey01`` / ``FlowyardTestSecret0123456789abcd``) called
ImportWorkflowDefinition (POST form body with non-ASCII, ``+ & = * ~ %`` in the Spec),
GetJobStatus, ListWorkflowDefinitions (GET query with an empty value and ``* + ~ / & =``),
GetWorkflowDefinition, and CreateWorkflowDefinition with STS credentials
(``STS.NTestTemporaryKey`` / ``StsTemporarySecret`` / token ``CAIS+test/token==``). The bytes below
are exactly what arrived on the socket; ``Accept-Encoding`` and ``Content-Length`` were added by
``requests`` and are not signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from flowyard.dataworks.signature import (
    DEFAULT_MAX_SKEW,
    AccessKeyNotFoundError,
    IncompleteSignatureError,
    MissingSignatureParameterError,
    SignatureError,
    SignatureMismatchError,
    SignatureNonceUsedError,
    TimestampExpiredError,
    TimestampFormatError,
    canonical_query,
    canonical_request,
    parse_authorization,
    sign,
    string_to_sign,
    verify,
)
from flowyard.errors import AuthError

SECRETS = {
    "LTAI5tFlowyardTestKey01": "FlowyardTestSecret0123456789abcd",
    "STS.NTestTemporaryKey": "StsTemporarySecret",
}
SIGNED_AT = datetime(2026, 11, 22, 5, 31, 42, tzinfo=UTC)


@dataclass(frozen=True)
class Recorded:
    name: str
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> list[tuple[str, str]]:
        # What a server hands over: decoded pairs, "+" as space, blank values kept.
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    def header(self, name: str) -> str:
        return next(value for key, value in self.headers if key.lower() == name)

    def with_header(self, name: str, value: str) -> Recorded:
        headers = tuple((key, value if key.lower() == name else old) for key, old in self.headers)
        if name not in {key.lower() for key, _ in self.headers}:
            headers = (*headers, (name, value))
        return replace(self, headers=headers)

    def without_header(self, name: str) -> Recorded:
        return replace(self, headers=tuple((k, v) for k, v in self.headers if k.lower() != name))


RECORDINGS = (
    Recorded(
        name="import_workflow_definition",
        method="POST",
        target="/",
        headers=(
            ("Accept-Encoding", "identity"),
            ("host", "127.0.0.1:36825"),
            ("x-acs-version", "2024-05-18"),
            ("x-acs-action", "ImportWorkflowDefinition"),
            ("user-agent", "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"),
            ("x-acs-date", "2026-11-22T05:31:42Z"),
            ("x-acs-signature-nonce", "900fcdb7fbb2669788edc35edf47a761"),
            ("accept", "application/json"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-acs-content-sha256", "e25a0f65224b45d751e1daeb028256a06296cc48c2745373306691b966dd7824"),
            ("x-acs-credentials-provider", "static_ak"),
            (
                "Authorization",
                "ACS3-HMAC-SHA256 Credential=LTAI5tFlowyardTestKey01,SignedHeaders=accept;content-type;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=9b36ecf93f134283505d513b7935c975f203faff8e732f04ee4b5703df2669fa",
            ),
            ("Content-Length", "278"),
        ),
        body=b"DryRun=True&ProjectId=12345&Spec=%7B%22version%22%3A+%221.1.0%22%2C+%22kind%22%3A+%22CycleWorkflow%22%2C+%22spec%22%3A+%7B%22workflows%22%3A+%5B%7B%22name%22%3A+%22%E6%AF%8F%E6%97%A5+ETL+%26+load%22%2C+%22script%22%3A+%7B%22content%22%3A+%22a%2Bb%3Dc%2Ad+~x%25%22%7D%7D%5D%7D%7D",
    ),
    Recorded(
        name="get_job_status",
        method="GET",
        target="/?JobId=C664CDE3-9C0B-5792-B17F-6C543783BBBC",
        headers=(
            ("Accept-Encoding", "identity"),
            ("host", "127.0.0.1:36825"),
            ("x-acs-version", "2024-05-18"),
            ("x-acs-action", "GetJobStatus"),
            ("user-agent", "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"),
            ("x-acs-date", "2026-11-22T05:31:42Z"),
            ("x-acs-signature-nonce", "1a957ee68feb24e41b5fc23d84dfd981"),
            ("accept", "application/json"),
            ("x-acs-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("x-acs-credentials-provider", "static_ak"),
            (
                "Authorization",
                "ACS3-HMAC-SHA256 Credential=LTAI5tFlowyardTestKey01,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=a7937e22a55ce5052027865ef97333c2e6acccdd62f07a8772ea4c0d2e5ea192",
            ),
        ),
        body=b"",
    ),
    Recorded(
        name="list_workflow_definitions",
        method="GET",
        target="/?Name=%E6%AF%8F%E6%97%A5+etl%2A%2B~%2F%26%3D&Owner=&PageNumber=1&PageSize=20&ProjectId=12345&Type=CycleWorkflow",
        headers=(
            ("Accept-Encoding", "identity"),
            ("host", "127.0.0.1:36825"),
            ("x-acs-version", "2024-05-18"),
            ("x-acs-action", "ListWorkflowDefinitions"),
            ("user-agent", "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"),
            ("x-acs-date", "2026-11-22T05:31:42Z"),
            ("x-acs-signature-nonce", "0de21ac8f737e427b578fe5de3f66861"),
            ("accept", "application/json"),
            ("x-acs-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("x-acs-credentials-provider", "static_ak"),
            (
                "Authorization",
                "ACS3-HMAC-SHA256 Credential=LTAI5tFlowyardTestKey01,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=bc8bddc730734ef4beedea43fd9229208577af5bfe7baca5d6bb92ac82527d10",
            ),
        ),
        body=b"",
    ),
    Recorded(
        name="get_workflow_definition",
        method="GET",
        target="/?Id=700006657495&IncludeScriptContent=True&ProjectId=12345",
        headers=(
            ("Accept-Encoding", "identity"),
            ("host", "127.0.0.1:36825"),
            ("x-acs-version", "2024-05-18"),
            ("x-acs-action", "GetWorkflowDefinition"),
            ("user-agent", "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"),
            ("x-acs-date", "2026-11-22T05:31:42Z"),
            ("x-acs-signature-nonce", "05292560dc055de7491dd4534adc5ed2"),
            ("accept", "application/json"),
            ("x-acs-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("x-acs-credentials-provider", "static_ak"),
            (
                "Authorization",
                "ACS3-HMAC-SHA256 Credential=LTAI5tFlowyardTestKey01,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=d4ae5f50cee4a90cc112d0dfc1efc2e42c77f429e7312387a1df7400b7fc182e",
            ),
        ),
        body=b"",
    ),
    Recorded(
        name="create_workflow_definition_sts",
        method="POST",
        target="/",
        headers=(
            ("Accept-Encoding", "identity"),
            ("host", "127.0.0.1:36825"),
            ("x-acs-version", "2024-05-18"),
            ("x-acs-action", "CreateWorkflowDefinition"),
            ("user-agent", "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"),
            ("x-acs-date", "2026-11-22T05:31:42Z"),
            ("x-acs-signature-nonce", "948525eb319a35e18cbf8779680e6075"),
            ("accept", "application/json"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-acs-content-sha256", "a5c097b0439acf9e638702b002da7d36e7cbe486d50e099684a43c1156b1bce8"),
            ("x-acs-credentials-provider", "static_sts"),
            ("x-acs-accesskey-id", "STS.NTestTemporaryKey"),
            ("x-acs-security-token", "CAIS+test/token=="),
            (
                "Authorization",
                "ACS3-HMAC-SHA256 Credential=STS.NTestTemporaryKey,SignedHeaders=accept;content-type;host;user-agent;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature=be305cfcbeeecf1a21e45972314d0354bd7ccd77025c82cdd68d59d2478be390",
            ),
            ("Content-Length", "59"),
        ),
        body=b"ProjectId=12345&Spec=%7B%22kind%22%3A%22CycleWorkflow%22%7D",
    ),
)
IMPORT, GET_JOB_STATUS, LIST_WORKFLOWS = RECORDINGS[0], RECORDINGS[1], RECORDINGS[2]


class NonceStore:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.calls = 0

    def __call__(self, nonce: str) -> bool:
        self.calls += 1
        if nonce in self.seen:
            return True
        self.seen.add(nonce)
        return False


def check(
    request: Recorded,
    *,
    now: datetime = SIGNED_AT,
    secrets: dict[str, str] = SECRETS,
    nonce_seen: Callable[[str], bool] | None = None,
    query: list[tuple[str, str]] | None = None,
) -> str:
    return verify(
        method=request.method,
        path=request.path,
        query=request.query if query is None else query,
        headers=dict(request.headers),
        body=request.body,
        secret_for=secrets.get,
        now=now,
        max_skew=DEFAULT_MAX_SKEW,
        nonce_seen=nonce_seen or NonceStore(),
    )


@pytest.mark.parametrize("request_", RECORDINGS, ids=lambda r: r.name)
def test_sdk_request_verifies(request_: Recorded) -> None:
    assert check(request_) == parse_authorization(request_.header("authorization")).access_key_id


@pytest.mark.parametrize("request_", RECORDINGS, ids=lambda r: r.name)
def test_recomputes_the_sdk_signature(request_: Recorded) -> None:
    auth = parse_authorization(request_.header("authorization"))
    canonical = canonical_request(
        request_.method,
        request_.path,
        request_.query,
        dict(request_.headers),
        auth.signed_headers,
        request_.header("x-acs-content-sha256"),
    )
    assert sign(SECRETS[auth.access_key_id], string_to_sign(canonical)) == auth.signature


def test_canonical_request_layout() -> None:
    auth = parse_authorization(GET_JOB_STATUS.header("authorization"))
    canonical = canonical_request(
        "GET", "/", GET_JOB_STATUS.query, dict(GET_JOB_STATUS.headers), auth.signed_headers, "e3b0"
    )
    lines = canonical.split("\n")
    assert lines[:4] == ["GET", "/", "JobId=C664CDE3-9C0B-5792-B17F-6C543783BBBC", "accept:application/json"]
    assert lines[-3:] == ["", ";".join(auth.signed_headers), "e3b0"]


def test_canonical_query_encoding() -> None:
    pairs = [("Name", "每日 etl*+~/&="), ("Owner", ""), ("A", "1")]
    assert canonical_query(pairs) == "A=1&Name=%E6%AF%8F%E6%97%A5%20etl%2A%2B~%2F%26%3D&Owner="


def test_header_names_are_case_insensitive_and_unsigned_headers_ignored() -> None:
    shouted = replace(IMPORT, headers=tuple((k.upper(), v) for k, v in IMPORT.headers))
    assert check(shouted.with_header("x-forwarded-for", "10.0.0.1")) == "LTAI5tFlowyardTestKey01"


@pytest.mark.parametrize("name", parse_authorization(IMPORT.header("authorization")).signed_headers)
def test_tampered_signed_header_is_rejected(name: str) -> None:
    value = "2026-11-22T05:31:43Z" if name == "x-acs-date" else IMPORT.header(name) + "x"
    with pytest.raises(SignatureMismatchError) as caught:
        check(IMPORT.with_header(name, value))
    assert caught.value.error_code == "SignatureDoesNotMatch"
    assert caught.value.http_status == 400


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(SignatureMismatchError, match="x-acs-content-sha256"):
        check(replace(IMPORT, body=IMPORT.body.replace(b"ProjectId=12345", b"ProjectId=12346")))


def test_tampered_body_with_matching_content_hash_is_rejected() -> None:
    body = IMPORT.body.replace(b"DryRun=True", b"DryRun=False")
    tampered = replace(IMPORT, body=body).with_header(
        "x-acs-content-sha256", hashlib.sha256(body).hexdigest()
    )
    with pytest.raises(SignatureMismatchError, match="StringToSign is \\[ACS3-HMAC-SHA256\n"):
        check(tampered)


@pytest.mark.parametrize(
    "query",
    [
        [("PageSize", "21") if k == "PageSize" else (k, v) for k, v in LIST_WORKFLOWS.query],
        [("Owner", "mallory") if k == "Owner" else (k, v) for k, v in LIST_WORKFLOWS.query],
        [*LIST_WORKFLOWS.query, ("Extra", "1")],
        [(k, v) for k, v in LIST_WORKFLOWS.query if k != "Owner"],
    ],
    ids=["changed-value", "filled-blank", "added", "removed"],
)
def test_tampered_query_is_rejected(query: list[tuple[str, str]]) -> None:
    with pytest.raises(SignatureMismatchError):
        check(LIST_WORKFLOWS, query=query)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(SignatureMismatchError):
        check(IMPORT, secrets={"LTAI5tFlowyardTestKey01": "FlowyardTestSecret0123456789abce"})


@pytest.mark.parametrize("offset", [timedelta(minutes=15, seconds=1), -timedelta(minutes=15, seconds=1)])
def test_date_outside_the_window_is_expired(offset: timedelta) -> None:
    with pytest.raises(TimestampExpiredError) as caught:
        check(IMPORT, now=SIGNED_AT + offset)
    assert caught.value.error_code == "InvalidTimeStamp.Expired"
    assert caught.value.http_status == 400


@pytest.mark.parametrize("offset", [timedelta(minutes=15), -timedelta(minutes=15)])
def test_date_at_the_window_edge_is_accepted(offset: timedelta) -> None:
    assert check(IMPORT, now=SIGNED_AT + offset)


@pytest.mark.parametrize("value", ["2026-11-22 05:31:42", "1795325502", "2026-11-22T05:31:42+00:00", ""])
def test_malformed_date(value: str) -> None:
    with pytest.raises((TimestampFormatError, MissingSignatureParameterError)):
        check(IMPORT.with_header("x-acs-date", value))


def test_replayed_nonce_is_rejected() -> None:
    store = NonceStore()
    check(IMPORT, nonce_seen=store)
    with pytest.raises(SignatureNonceUsedError) as caught:
        check(IMPORT, nonce_seen=store, now=SIGNED_AT + timedelta(seconds=5))
    assert caught.value.error_code == "SignatureNonceUsed"
    assert caught.value.http_status == 400


def test_nonce_is_not_recorded_for_a_bad_signature() -> None:
    store = NonceStore()
    with pytest.raises(SignatureMismatchError):
        check(IMPORT, nonce_seen=store, secrets={"LTAI5tFlowyardTestKey01": "wrong"})
    assert store.calls == 0
    assert check(IMPORT, nonce_seen=store)


def test_unknown_access_key() -> None:
    with pytest.raises(AccessKeyNotFoundError) as caught:
        check(IMPORT, secrets={})
    assert caught.value.error_code == "InvalidAccessKeyId.NotFound"
    assert caught.value.http_status == 404


@pytest.mark.parametrize(
    "name",
    ["authorization", "host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"],
)
def test_missing_required_header(name: str) -> None:
    with pytest.raises(MissingSignatureParameterError, match=name) as caught:
        check(IMPORT.without_header(name))
    assert caught.value.error_code == "MissingParameter"


@pytest.mark.parametrize(
    "value",
    [
        "ACS3-HMAC-SM3 Credential=LTAI5tFlowyardTestKey01,SignedHeaders=host,Signature=00",
        "ACS3-HMAC-SHA256 Credential=LTAI5tFlowyardTestKey01,SignedHeaders=host",
        "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=00",
        "ACS3-HMAC-SHA256",
        "Bearer abc",
    ],
)
def test_malformed_authorization(value: str) -> None:
    with pytest.raises(IncompleteSignatureError) as caught:
        check(IMPORT.with_header("authorization", value))
    assert caught.value.error_code == "IncompleteSignature"


def test_parse_authorization_tolerates_spaces() -> None:
    auth = parse_authorization("ACS3-HMAC-SHA256 Credential=AK, SignedHeaders=Host;X-Acs-Date, Signature=ab")
    assert (auth.access_key_id, auth.signed_headers, auth.signature) == ("AK", ("host", "x-acs-date"), "ab")


@pytest.mark.parametrize("dropped", ["x-acs-signature-nonce", "content-type", "x-acs-security-token"])
def test_required_header_left_unsigned_is_incomplete(dropped: str) -> None:
    sts = RECORDINGS[4]
    auth = sts.header("authorization")
    names = parse_authorization(auth).signed_headers
    unsigned = auth.replace(";".join(names), ";".join(n for n in names if n != dropped))
    with pytest.raises(IncompleteSignatureError, match=dropped):
        check(sts.with_header("authorization", unsigned))


def test_extra_acs_header_must_be_signed() -> None:
    with pytest.raises(IncompleteSignatureError, match="x-acs-retry-attempts"):
        check(IMPORT.with_header("x-acs-retry-attempts", "1"))


def test_signed_header_missing_from_request_is_incomplete() -> None:
    with pytest.raises(IncompleteSignatureError, match="user-agent"):
        check(IMPORT.without_header("user-agent"))


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        check(IMPORT, now=SIGNED_AT.replace(tzinfo=None))


def test_signature_errors_are_auth_errors() -> None:
    assert issubclass(SignatureError, AuthError)
