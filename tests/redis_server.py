"""A private redis-server for the rate-limit tests, on a free port, that a test may stop."""

import shutil
import socket
import subprocess

from tests.helpers import terminate, wait_for_server
from tests.servers import free_port


class RedisServer:
    """redis-server on 127.0.0.1, keeping nothing on disk; start() and stop() at will."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self, deadline_seconds=20):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for_server(self.process, self.answers, deadline_seconds, "redis-server")

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.process is not None:
            terminate(self.process)
            self.process = None
