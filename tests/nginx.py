"""A real nginx in front of a test server, set up as Elastic Beanstalk's AL2023 platform does."""

import contextlib
import os
import shutil
import subprocess

from tests.helpers import accepts_connections, terminate, wait_for_server
from tests.servers import ROOT, free_port

# Where Elastic Beanstalk takes the repository's own nginx files from: files in conf.d go to
# /etc/nginx/conf.d (included in the http block), the elasticbeanstalk folder's files go
# into the one server block, next to the platform's `location /`.
SHIPPED = ROOT / ".platform" / "nginx" / "conf.d"

# The platform's nginx.conf, reduced to what shapes a request: no client_max_body_size
# (nginx's default, 1m), HTTP/1.1 to the app without upstream keep-alive, the usual
# forwarding headers. Paths point into the test's own folder.
CONFIG = """
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    access_log {folder}/access.log;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    map $http_upgrade $connection_upgrade {{ default "upgrade"; }}
    {http_includes}
    server {{
        listen 127.0.0.1:{port} default_server;
        client_header_timeout 60;
        client_body_timeout 60;
        keepalive_timeout 60;
        gzip off;
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            {location_extra}
        }}
        {server_includes}
    }}
}}
"""


def write_config(folder, port, upstream, shipped, location_extra):
    """nginx.conf in `folder`; with `shipped`, the repository's files included as on EB."""
    http_includes = server_includes = ""
    if shipped:
        http_includes = f"include {SHIPPED}/*.conf;"
        server_includes = f"include {SHIPPED}/elasticbeanstalk/*.conf;"
    # nginx started as root hands its workers to `nobody`, who could not write the test's
    # temporary folders; the platform runs them as `nginx` with folders it owns.
    user = "user root;" if os.geteuid() == 0 else ""
    text = CONFIG.format(
        user=user,
        folder=folder,
        port=port,
        upstream=upstream,
        http_includes=http_includes,
        server_includes=server_includes,
        location_extra=location_extra,
    )
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


@contextlib.contextmanager
def nginx(folder, upstream_url, shipped=True, location_extra=""):
    """nginx on a free loopback port proxying to `upstream_url`; yields its URL.

    `location_extra`: directives added to the platform's `location /` (a shorter timeout).
    """
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    upstream = upstream_url.removeprefix("http://")
    config = write_config(folder, port, upstream, shipped, location_extra)
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    command = [binary, "-p", str(folder), "-c", str(config), "-g", "daemon off;"]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        # What the app behind nginx answers is the test's business: only wait for nginx.
        wait_for_server(process, lambda: accepts_connections(port), 20, "nginx")
        yield base_url
    finally:
        terminate(process)
