"""A short mixed load over HTTP: many reads, some creates, from several threads."""

import json
import threading
import time

from tests.servers import request


def mixed_load(base_url, headers, seconds, clients, statuses):
    """`clients` threads send 8 reads, 1 create and 1 replace in every 10 requests, for
    `seconds`, to people 1 to 20; `statuses` collects the answers. Returns the threads."""

    def client(number):
        count = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            count += 1
            path = f"/resources/data/{count % 20 + 1}"
            body = json.dumps({"name": f"load {number}-{count}", "age": 30, "locale": "NYC"})
            if count % 10 == 0:
                answer = request(base_url, "PUT", "/resources/data/", body, headers)
            elif count % 10 == 5:
                answer = request(base_url, "PUT", path, body, headers)
            else:
                answer = request(base_url, "GET", path, None, headers)
            statuses.append(answer.status)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    return threads
