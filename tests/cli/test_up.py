"""`ikasched up`: the local stack in a temp directory."""

from __future__ import annotations

import http.cookiejar
import os
import queue
import signal
import stat
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from .conftest import clean_env, cli_command, run

UP_TIMEOUT = 90.0


def test_up_exit_when_complete(tmp_path: Path) -> None:
    done = subprocess.run(
        cli_command("up", "--listen", "127.0.0.1:0", "--exit-when-complete", "--timeout", "60"),
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "plan hello" in done.stdout and "created" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].endswith(": COMPLETE")
    data = tmp_path / "ikasched-data"
    token = data / "admin.token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert token.read_text().startswith("iks_")
    config = (data / "cli.toml").read_text()
    assert "[cli]" in config and 'token_file = "admin.token"' in config


class _Lines:
    """The stdout lines of a process, read on a thread so waits can have deadlines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout

        def pump() -> None:
            for line in stream:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed; got:\n" + "\n".join(self.seen))


class _LoopbackIsSecure(http.cookiejar.DefaultCookiePolicy):
    """As browsers do: http://127.0.0.1 is a secure context, so Secure cookies go there."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        if cookie.secure and request.host.startswith("127.0.0.1"):
            return True
        return bool(super().return_ok_secure(cookie, request))


def test_up_foreground_then_commands_without_flags_then_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        cli_command("up", "--listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0"),
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = _Lines(proc)
        web = lines.wait_for("web console: http://127.0.0.1:").split(": ", 1)[1].strip()
        # the printed link signs a browser in as the local admin: the overview follows
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar(_LoopbackIsSecure()))
        )
        with opener.open(web, timeout=30) as page:
            assert page.url == web.split("/login/", 1)[0] + "/", page.url
            assert "Jobs in ERROR" in page.read().decode()
        lines.wait_for("hello instance")
        lines.wait_for("context hello: RUNNING -> COMPLETE")
        # another terminal in the same directory: no flags, no environment
        listed = run(["instance", "list", "-o", "json"], cwd=tmp_path, env=clean_env())
        assert listed.rc == 0, listed.err
        assert "hello" in [i["context_name"] for i in listed.json()]
        agents = run(["agent", "list", "-o", "json"], cwd=tmp_path, env=clean_env())
        assert [a["agent_name"] for a in agents.json() if a.get("connected")] == ["local"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        lines.wait_for("stopping the agent and the dashboard")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the dashboard is gone: a command now says so
    gone = run(["plan", "list"], cwd=tmp_path, env=clean_env())
    assert gone.rc == 3 and "cannot reach the dashboard" in gone.err
    # state kept: the next `up` finds the plans unchanged and the hello instance COMPLETE
    again = subprocess.run(
        cli_command("up", "--listen", "127.0.0.1:0", "--exit-when-complete", "--timeout", "60"),
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT,
    )
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert "plan hello            unchanged" in again.stdout
    assert "still live (COMPLETE)" in again.stdout


def test_up_on_a_terminal_draws_a_status_screen(tmp_path: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    rows, cols = 30, 110
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = clean_env()
    env.pop("NO_COLOR")
    proc = subprocess.Popen(
        cli_command("up", "--listen", "127.0.0.1:0", "--exit-when-complete", "--timeout", "60"),
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(UP_TIMEOUT) == 0
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = b"".join(chunks).decode(errors="replace")
    # drawn on the alternate screen (redraws replace each other, the scrollback keeps none)
    assert "\x1b[?1049h" in text and "\x1b[?1049l" in text
    screen, after = text.rsplit("\x1b[?1049l", 1)
    last = screen.rsplit("\x1b[H", 1)[1]  # the last frame, drawn from the top left
    assert "PLAN" in last and "NEXT FIRE" in last
    assert "\x1b[32mCOMPLETE\x1b[0m" in last  # statuses in colour
    assert "local-say-done" in last
    assert len(last.rstrip().split("\n")) <= rows  # fits the window
    assert after.rstrip().endswith(": COMPLETE")


def _children(pid: int) -> dict[int, str]:
    """The live child processes of `pid` (from /proc), with their command lines."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_text = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat_text.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = command
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_up_killed_with_sigkill_takes_its_children_with_it(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        cli_command("up", "--listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0"),
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    children: dict[int, str] = {}
    try:
        lines = _Lines(proc)
        lines.wait_for("web console: http://127.0.0.1:")
        children = _children(proc.pid)
        kinds = sorted(
            word
            for c in children.values()
            for word in ("dashboard", "agent", "web")
            if f"ikasched_cli {word}" in c
        )
        assert kinds == ["agent", "dashboard", "web"], children
        proc.send_signal(signal.SIGKILL)  # no handler, no cleanup: only the kernel can tell them
        proc.wait(10)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {pid: c for pid, c in children.items() if _alive(pid)}
        assert not left, f"still running after `up` was SIGKILLed: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
