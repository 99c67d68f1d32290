"""`ikasched web`: the web console, a client of the dashboard's gRPC API like this CLI."""

from __future__ import annotations

import argparse
import asyncio
import contextlib


def web_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dashboard", default="127.0.0.1:50051", help="the dashboard's HOST:PORT")
    p.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT to serve on")
    p.add_argument(
        "--token-file",
        help="a token whose sign-in link (printed at start) opens a session with its rights",
    )
    p.add_argument(
        "--insecure-cookies",
        action="store_true",
        help="session cookies without Secure (a browser that will not keep them over http)",
    )


def web(args: argparse.Namespace) -> int:
    from ikasched_web.serve import read_token, serve

    token = read_token(args.token_file) if args.token_file else ""

    def ready(url: str) -> None:
        print(f"ikasched web: console at {url}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(
                args.dashboard,
                args.listen,
                token=token,
                secure_cookies=not args.insecure_cookies,
                on_ready=ready,
            )
        )
    return 0
