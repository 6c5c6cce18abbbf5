"""The one place that runs external commands: argv lists only, never a shell.

User-supplied values reach here only as single argv items, so shell metacharacters in names are
passed literally.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)


class CommandError(RuntimeError):
    def __init__(self, argv: Sequence[str], code: int, stderr: str) -> None:
        super().__init__(f"{argv[0]} exited {code}: {stderr.strip()[-2000:]}")
        self.argv = list(argv)
        self.code = code
        self.stderr = stderr


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input: bytes | None = None,
    timeout: float | None = 120,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run argv to completion and return its text output; CommandError when it fails."""
    log.debug("run %s", argv)
    proc = subprocess.run(
        list(argv),
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        check=False,
    )
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr)
    return proc


def in_netns(netns: str, argv: Sequence[str]) -> list[str]:
    """argv run inside a network namespace ("" is the current one)."""
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


def spawn(
    argv: Sequence[str], *, stdin: int | None = None, stdout: int | None = None
) -> subprocess.Popen[bytes]:
    """Start argv for the caller to stream through (stdin or stdout `subprocess.PIPE`); its
    stderr is a pipe too, for the error the caller reports."""
    log.debug("spawn %s", argv)
    return subprocess.Popen(
        list(argv),
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
