"""The DataWorks envelope: success bodies, error bodies and the error-to-status table."""

from __future__ import annotations

import json

import pytest

from flowyard.dataworks.envelope import (
    CONTENT_TYPE,
    INTERNAL_ERROR_MESSAGE,
    dumps,
    error_body,
    new_request_id,
    render_error,
    success_body,
    to_pascal,
)
from flowyard.dataworks.signature import (
    AccessKeyNotFoundError,
    IncompleteSignatureError,
    MissingSignatureParameterError,
    SignatureMismatchError,
    SignatureNonceUsedError,
    TimestampExpiredError,
    TimestampFormatError,
)
from flowyard.errors import (
    AuthError,
    FlowyardError,
    InternalError,
    InvalidParameterError,
    NoPrivilegeError,
    StateError,
)

RID = "7C352CB7-CD88-50CF-9D0D-E81BDF020E7F"


def test_success_body_puts_request_id_first_and_pascal_cases_keys() -> None:
    body = success_body(
        {"async_job": {"id": "77", "type": "Create", "create_time": 1706581425000, "Completed": False}},
        request_id=RID,
    )
    assert list(body) == ["RequestId", "AsyncJob"]
    assert body["AsyncJob"] == {"Id": "77", "Type": "Create", "CreateTime": 1706581425000, "Completed": False}


def test_success_body_pascal_cases_inside_lists_and_keeps_values() -> None:
    body = success_body(
        {"paging_info": {"workflow_definitions": [{"id": "1", "spec": '{"kind":"x_y"}'}]}}, request_id=RID
    )
    assert body["PagingInfo"]["WorkflowDefinitions"] == [{"Id": "1", "Spec": '{"kind":"x_y"}'}]


@pytest.mark.parametrize("payload", [{"RequestId": "other"}, {"request_id": "x"}, {"job_id": 1, "JobId": 2}])
def test_success_body_rejects_colliding_keys(payload: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        success_body(payload, request_id=RID)


def test_success_body_rejects_keys_that_cannot_be_pascal() -> None:
    with pytest.raises(ValueError, match="PascalCase"):
        success_body({"x-y": 1}, request_id=RID)


@pytest.mark.parametrize(
    ("key", "expected"),
    [("async_job", "AsyncJob"), ("id", "Id"), ("JobStatus", "JobStatus"), ("page_size", "PageSize")],
)
def test_to_pascal(key: str, expected: str) -> None:
    assert to_pascal(key) == expected


def test_error_body_shape_and_order() -> None:
    assert list(error_body("InvalidParameter", "bad", request_id=RID, host_id="h").items()) == [
        ("RequestId", RID),
        ("HostId", "h"),
        ("Code", "InvalidParameter"),
        ("Message", "bad"),
    ]
    assert "HostId" not in error_body("InvalidParameter", "bad", request_id=RID)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (MissingSignatureParameterError("x-acs-date"), 400, "MissingParameter"),
        (IncompleteSignatureError(), 400, "IncompleteSignature"),
        (TimestampFormatError(), 400, "InvalidTimeStamp.Format"),
        (TimestampExpiredError(), 400, "InvalidTimeStamp.Expired"),
        (AccessKeyNotFoundError(), 404, "InvalidAccessKeyId.NotFound"),
        (SignatureMismatchError(), 400, "SignatureDoesNotMatch"),
        (SignatureNonceUsedError(), 400, "SignatureNonceUsed"),
        (InvalidParameterError("Spec is not JSON"), 400, "InvalidParameter"),
        (StateError(), 400, "OperationDenied"),
        (NoPrivilegeError(), 403, "Forbidden.Access"),
        (AuthError(), 403, "Forbidden.Access"),
        (InternalError(), 500, "InternalError"),
        (FlowyardError(), 500, "InternalError"),
    ],
)
def test_render_error_table(error: FlowyardError, status: int, code: str) -> None:
    response = render_error(error, request_id=RID, host_id="flowyard")
    assert response.status == status
    assert response.body == {"RequestId": RID, "HostId": "flowyard", "Code": code, "Message": error.message}


def test_missing_parameter_names_the_parameter() -> None:
    body = render_error(MissingSignatureParameterError("x-acs-date"), request_id=RID).body
    assert body["Message"] == (
        'The input parameter "x-acs-date" that is mandatory for processing this request is not supplied.'
    )


def test_unexpected_exception_does_not_leak() -> None:
    response = render_error(RuntimeError("password=hunter2"), request_id=RID)
    assert response.status == 500
    assert response.body["Code"] == "InternalError"
    assert response.body["Message"] == INTERNAL_ERROR_MESSAGE


def test_dumps_is_compact_utf8_json() -> None:
    raw = dumps({"RequestId": RID, "Error": "目标已存在"})
    assert raw == f'{{"RequestId":"{RID}","Error":"目标已存在"}}'.encode()
    assert json.loads(raw) == {"RequestId": RID, "Error": "目标已存在"}
    assert CONTENT_TYPE.startswith("application/json")


def test_request_id_shape() -> None:
    rid = new_request_id()
    assert rid == rid.upper()
    assert [len(part) for part in rid.split("-")] == [8, 4, 4, 4, 12]
