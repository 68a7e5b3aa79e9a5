"""The DataWorks OpenAPI 2024-05-18 edge: V3 request signatures and the response envelope.

Wire quirks of Alibaba Cloud's RPC style (``x-acs-*`` headers, PascalCase fields, ``RequestId``,
``Code``/``Message`` errors) live here and nowhere else.
"""

from __future__ import annotations

from flowyard.dataworks.envelope import (
    CONTENT_TYPE,
    ErrorResponse,
    dumps,
    error_body,
    new_request_id,
    render_error,
    success_body,
)
from flowyard.dataworks.signature import (
    DEFAULT_MAX_SKEW,
    AccessKeyNotFoundError,
    Authorization,
    IncompleteSignatureError,
    MissingSignatureParameterError,
    SignatureError,
    SignatureMismatchError,
    SignatureNonceUsedError,
    TimestampExpiredError,
    TimestampFormatError,
    verify,
)

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_MAX_SKEW",
    "AccessKeyNotFoundError",
    "Authorization",
    "ErrorResponse",
    "IncompleteSignatureError",
    "MissingSignatureParameterError",
    "SignatureError",
    "SignatureMismatchError",
    "SignatureNonceUsedError",
    "TimestampExpiredError",
    "TimestampFormatError",
    "dumps",
    "error_body",
    "new_request_id",
    "render_error",
    "success_body",
    "verify",
]
