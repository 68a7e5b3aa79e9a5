"""What every API handler gets: the services, the clock, the time zone, and one parsed call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from pydantic import BaseModel

from flowyard.api.schemas import QueryParam
from flowyard.api.wire import Reader, to_int
from flowyard.clock import Clock
from flowyard.domain.permissions import Caller
from flowyard.errors import InvalidParameterError
from flowyard.services.auth import AuthService
from flowyard.services.directories import DirectoryService
from flowyard.services.flows import FlowService
from flowyard.services.identity import IdentityService
from flowyard.services.runs import RunService
from flowyard.services.sessions import ConsoleSessionService
from flowyard.settings import Settings


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: Settings
    clock: Clock
    zone: tzinfo
    identity: IdentityService
    auth: AuthService
    flows: FlowService
    directories: DirectoryService
    runs: RunService
    # Console sign-in; None where no browser may call (tests that build a bare context).
    console: ConsoleSessionService | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """One EnOS API call after authentication: version, query, JSON body, acting user."""

    ctx: ApiContext
    version: str
    query: Mapping[str, str]
    body: Reader
    caller_or_none: Caller | None
    now: datetime

    @property
    def caller(self) -> Caller:
        assert self.caller_or_none is not None, "operation declared without a user"
        return self.caller_or_none

    def query_int(self, name: str) -> int:
        value = self.query.get(name, "")
        if value == "":
            raise InvalidParameterError(f"Invalid parameter: {name} is required")
        return to_int(value, name)

    def query_str(self, name: str, *aliases: str) -> str | None:
        for key in (name, *aliases):
            if key in self.query:
                return self.query[key]
        return None


Handler = Callable[[Call], Any]


@dataclass(frozen=True, slots=True)
class Operation:
    """One row of the routing table of spec 2.1."""

    resource: str
    method: str
    action: str
    handler: Handler
    versions: frozenset[str] = frozenset({"v2.0", "v2.1"})
    needs_user: bool = True
    # True when the operation changes nothing (export, get, search, list, logs, time). Only such
    # operations accept a repeated apim-signature inside the skew window (README, "Security").
    read_only: bool = False
    # What the operation reads, for the OpenAPI document (flowyard.api.schemas).
    query: tuple[QueryParam, ...] = ()
    body: type[BaseModel] | None = None
    # The 62109 wording of this operation when it differs from "Internal server exception": (V2.1, V2.0).
    internal_message: tuple[str, str] | None = None
