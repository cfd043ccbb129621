"""`archiver serve`: the records officer's web console (archiver/web), served by uvicorn."""

from __future__ import annotations

import click

from archiver.cli.common import console, get_app, handle_errors


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep the loopback default and put the district's TLS proxy in front.")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--trusted-proxy", default=None, metavar="ADDRESS",
              help="The reverse proxy's address: only its X-Forwarded-Proto/Host/For are honoured.")
@click.option("--auth-header", default=None, metavar="HEADER",
              help="Header in which the trusted proxy names the user it authenticated (e.g. X-Remote-User).")
@click.option("--session-minutes", default=480, show_default=True, type=click.IntRange(1, 1440),
              help="A sign-in lasts this long.")
@click.pass_context
@handle_errors
def serve(ctx: click.Context, host: str, port: int, trusted_proxy: str | None, auth_header: str | None,
          session_minutes: int) -> None:
    """Serve the web console: search, threads, requests to the package, holds, retention, audit.

    Sign-in needs a console user (see 'archiver users add').

    \b
    Example:
      archiver users add pat --role records-officer < password.txt
      archiver serve --port 8765
      archiver serve --trusted-proxy 127.0.0.1 --auth-header X-Remote-User
    """
    import uvicorn

    from archiver.core.errors import ConfigError
    from archiver.services.users import prepare_login
    from archiver.web.app import ConsoleConfig, asgi
    from archiver.web.security import ProxyConfig

    if auth_header and not trusted_proxy:
        raise ConfigError("--auth-header needs --trusted-proxy: the header is believed only from the proxy")
    app = get_app(ctx)
    prepare_login()  # the dummy hash made before the first sign-in, not during it
    config = ConsoleConfig(proxy=ProxyConfig(trusted_proxy, auth_header), session_minutes=session_minutes)
    console.print(f"console on http://{host}:{port}/ (Ctrl-C stops it)")
    # proxy_headers off: our own middleware honours them, from the configured proxy only
    uvicorn.run(asgi(app, config), host=host, port=port, proxy_headers=False, server_header=False,
                log_level="warning")
