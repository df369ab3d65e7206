"""A private redis-server for the rate-limit tests, on a free port, that a test may stop;
over TLS too, with a self-signed certificate made by openssl for the test."""

import shutil
import socket
import ssl
import subprocess

from tests.helpers import terminate, wait_for_server
from tests.servers import free_port


def self_signed_certificate(folder):
    """A certificate for 127.0.0.1 (its own CA) and its key, made by openssl: their paths."""
    certificate, key = folder / "redis.crt", folder / "redis.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )
    return certificate, key


class RedisServer:
    """redis-server on 127.0.0.1, keeping nothing on disk; start() and stop() at will.

    With `tls_folder`, it answers TLS only (rediss://), with a self-signed certificate written
    there (`certificate`: the CA a client must trust), and asks no certificate of clients."""

    def __init__(self, tls_folder=None, arguments=()):
        self.port = free_port()
        self.arguments = list(arguments)  # more redis-server options: a password, users
        self.certificate = None
        if tls_folder is not None:
            self.certificate, self.key = self_signed_certificate(tls_folder)
        scheme = "redis" if self.certificate is None else "rediss"
        self.url = f"{scheme}://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self, deadline_seconds=20):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if self.certificate is None:
            command += ["--port", str(self.port)]
        else:
            command += ["--port", "0", "--tls-port", str(self.port)]
            command += ["--tls-cert-file", str(self.certificate), "--tls-key-file", str(self.key)]
            command += ["--tls-ca-cert-file", str(self.certificate), "--tls-auth-clients", "no"]
        self.process = subprocess.Popen(command + self.arguments, stdout=subprocess.DEVNULL)
        wait_for_server(self.process, self.answers, deadline_seconds, "redis-server")

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                if self.certificate is None:
                    return self.pong(connection)
                context = ssl.create_default_context(cafile=str(self.certificate))
                with context.wrap_socket(connection, server_hostname="127.0.0.1") as secured:
                    return self.pong(secured)
        except OSError:
            return False

    @staticmethod
    def pong(connection):
        connection.sendall(b"PING\r\n")
        # A server with a password answers, asking for it.
        return connection.recv(64).startswith((b"+PONG", b"-NOAUTH"))

    def stop(self):
        if self.process is not None:
            terminate(self.process)
            self.process = None
