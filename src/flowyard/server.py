"""``flowyard server`` and ``flowyard api``: one process serving the app built from the settings."""

from __future__ import annotations

import logging

import uvicorn

from flowyard.roles.embedded import create_app
from flowyard.roles.process import Server, lock_embedded_database
from flowyard.settings import Settings

log = logging.getLogger("flowyard.server")


def serve(settings: Settings) -> None:
    """Start the API and block until SIGINT or SIGTERM; uvicorn drains requests and exits cleanly."""
    lock = lock_embedded_database(settings)
    try:
        app = create_app(settings)
        if app.state.credentials is not None:
            print(f"Created the first organisation and admin; credentials in {settings.credentials_path}")
            if app.state.credentials.password:
                print(
                    f"Console sign-in: user admin, one-time password {app.state.credentials.password} "
                    "(change it with: flowyard admin user passwd admin)"
                )
        else:
            print(
                f"Using the existing database; credentials (if it made them) in {settings.credentials_path}"
            )
        if not settings.auth:
            log.warning(
                "AUTHENTICATION IS OFF (--no-auth): anyone who can reach %s:%s can act as any user. "
                "Use this only on a trusted network.",
                settings.host,
                settings.port,
            )
            print("WARNING: authentication is OFF (--no-auth); every request is trusted.")
        print(f"Flowyard API listening on http://{settings.host}:{settings.port}", flush=True)
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False
        )
        Server(config).run()
    finally:
        if lock is not None:
            lock.close()
