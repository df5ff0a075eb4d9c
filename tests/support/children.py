"""Another real Python process that a test talks to line by line: its own memory, caches and
copies (project.mirror), the same database, Redis and broker as the test."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.support.processes import ROOT, subprocess_env

# The start of a child's script: Django set up, and `sent["n"]` counting the Redis commands its
# main thread sends (the mirror's own thread renews its lease meanwhile, and is not counted).
COUNTING_REDIS_COMMANDS = """
import sys, threading, uuid
import django
django.setup()
import redis.connection

sent = {"n": 0}
me = threading.get_ident()
original = redis.connection.AbstractConnection.send_packed_command
def counting(self, *args, **kwargs):
    if threading.get_ident() == me:
        sent["n"] += 1
    return original(self, *args, **kwargs)
redis.connection.AbstractConnection.send_packed_command = counting
"""


class LineChild:
    """Runs `script` (which sets Django up and answers each line of its stdin with one line)."""

    def __init__(self, script: str):
        self.popen = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=subprocess_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, line: str) -> list[str]:
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()
        return self.popen.stdout.readline().split()

    def stop(self) -> None:
        self.popen.send_signal(signal.SIGCONT)  # a test may have stopped it
        self.popen.stdin.close()
        self.popen.wait(timeout=10)
