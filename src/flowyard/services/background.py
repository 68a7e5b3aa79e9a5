"""How background loops (the scheduler, job leases, purges) report a failed turn without crying wolf."""

from __future__ import annotations

import logging

from flowyard.store.db import is_transient


class Quiet:
    """How a background loop reports a failed turn: a transient database error is one log line
    while it keeps failing less than ``patience`` times in a row; anything else, or a transient one
    that persists, is logged with its traceback."""

    def __init__(self, log: logging.Logger, what: str, patience: int = 3) -> None:
        self._log = log
        self._what = what
        self._patience = patience
        self._failures = 0

    def failed(self, error: BaseException) -> None:
        self._failures += 1
        if is_transient(error) and self._failures < self._patience:
            self._log.info("%s: %s (will retry)", self._what, str(error).splitlines()[0])
            return
        self._log.error("%s failed (%d in a row)", self._what, self._failures, exc_info=error)

    def succeeded(self) -> None:
        self._failures = 0
