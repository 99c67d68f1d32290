"""A signed webhook through the real stack (docs/semantics.md §15.6): the dashboard started with
--webhook-secrets-dir, a rule with `secret: {file: NAME}` applied by the CLI, `notify test`
posts to a real HTTP server on 127.0.0.1 with X-Ikasched-Signature = HMAC-SHA256 of the exact
body under the file's secret; `notify list` shows the reference, never the secret."""

from __future__ import annotations

import hashlib
import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .conftest import StackFactory, assert_one_line_error, wait_until

SECRET = b"e2e-shared-secret"


def test_cli_rule_posts_a_signature_the_receiver_can_check(
    stack_factory: StackFactory, tmp_path: Path
) -> None:
    posts: list[tuple[str | None, bytes]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                posts.append((self.headers.get("X-Ikasched-Signature"), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        secrets = tmp_path / "hook-secrets"
        secrets.mkdir()
        (secrets / "ops").write_bytes(SECRET + b"\n")
        stack = stack_factory("signed", dashboard_flags=("--webhook-secrets-dir", str(secrets)))
        url = f"http://127.0.0.1:{server.server_address[1]}/signed"
        rule = stack.work / "signed.yaml"
        rule.write_text(f"name: signed\non: [ERROR]\nwebhook: {url}\nsecret: {{file: ops}}\n")
        bad = stack.work / "bad.yaml"
        bad.write_text(f"name: bad\non: [ERROR]\nwebhook: {url}\nsecret: {{file: ../ops}}\n")
        stack.ok("notify", "apply", "-f", str(rule))
        assert_one_line_error(stack.run("notify", "apply", "-f", str(bad)), contains="secret.file")
        listed = stack.ok("notify", "list", "-o", "json").out
        assert "file:ops" in listed and SECRET.decode() not in listed
        stack.ok("notify", "test", "signed")
        wait_until("the signed test post", lambda: bool(posts), timeout=30)
        signature, body = posts[0]
        want = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        assert signature == want and b'"kind": "TEST"' in body
    finally:
        server.shutdown()
        server.server_close()
