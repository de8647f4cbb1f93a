#!/usr/bin/env python3
"""`make load`: N clients send mixed reads and writes to `make dev` for a while and
fail on any error (a 5xx, a connection failure or an answer the contract does not allow).

Each client registers and logs in as a user of its own, then loops: reads of single tools and of
list pages (most requests, as in production), creates, patches and deletes of its own tools.
Usage: dev/load.py [--clients 8] [--seconds 30] [--url http://127.0.0.1:9000]
"""

import argparse
import collections
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse
import uuid

# What each kind of request may answer; anything else is an error.
ALLOWED = {
    "get": {200, 304, 404, 410},
    "list": {200},
    "create": {201},
    "patch": {200, 404, 412},
    "delete": {204, 404},
    "auth": {200, 201},
}


class Client:
    def __init__(self, url):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.connection = None
        self.token = None
        self.last = None

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.last = f"{method} {path}"
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A keep-alive connection the server closed between two requests: reconnect once.
                self.reset()
                if attempt:
                    raise
            except Exception:
                self.reset()
                raise

    def reset(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def run_client(number, args, deadline, seed_ids, results, errors, lock):
    client = Client(args.url)
    rng = random.Random(number)

    def record(kind, status, body):
        with lock:
            results[(kind, status)] += 1
            if status not in ALLOWED[kind]:
                errors.append(f"client {number}: {kind} -> {status}: {body[:300]!r}")

    credentials = {"email": f"load-{uuid.uuid4().hex}@example.com", "password": "load test password"}
    try:
        for path in ("/auth/register", "/auth/login"):
            status, body = client.request("POST", path, credentials)
            record("auth", status, body)
    except (OSError, http.client.HTTPException) as error:
        with lock:
            errors.append(f"client {number}: {type(error).__name__}: {error}")
        return
    if status != 200:
        return
    client.token = json.loads(body)["accessToken"]
    mine = []
    while time.monotonic() < deadline:
        roll = rng.random()
        try:
            if roll < 0.55 and (mine or seed_ids):
                tool = rng.choice(mine + seed_ids)
                status, body = client.request("GET", f"/tools/{tool}")
                record("get", status, body)
            elif roll < 0.80:
                query = rng.choice(["/tools", "/tools?limit=5", "/tools?sort=-updatedAt", "/tools?q=a"])
                status, body = client.request("GET", query)
                record("list", status, body)
            elif roll < 0.90 or not mine:
                tool = {
                    "name": f"load.{number}.{uuid.uuid4().hex[:12]}",
                    "description": "a tool of the load test",
                    "inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}},
                }
                status, body = client.request("POST", "/tools", tool)
                record("create", status, body)
                if status == 201:
                    mine.append(json.loads(body)["id"])
            elif roll < 0.96:
                tool = rng.choice(mine)
                status, body = client.request("PATCH", f"/tools/{tool}", {"description": f"patched {time.time()}"})
                record("patch", status, body)
            else:
                tool = mine.pop(rng.randrange(len(mine)))
                status, body = client.request("DELETE", f"/tools/{tool}")
                record("delete", status, body)
        except (OSError, http.client.HTTPException) as error:
            with lock:
                errors.append(f"client {number}: {client.last} at {time.strftime('%T')}: {type(error).__name__}: {error}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--url", default="http://127.0.0.1:9000")
    args = parser.parse_args()

    probe = Client(args.url)
    status, body = probe.request("GET", "/tools?limit=100")
    if status != 200:
        sys.exit(f"[load] GET /tools answered {status}: is `make dev` running?")
    seed_ids = [tool["id"] for tool in json.loads(body)["items"]]

    results, errors, lock = collections.Counter(), [], threading.Lock()
    deadline = time.monotonic() + args.seconds
    threads = [
        threading.Thread(target=run_client, args=(n, args, deadline, seed_ids, results, errors, lock))
        for n in range(args.clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    total = sum(results.values())
    print(f"[load] {args.clients} clients, {elapsed:.1f} s: {total} requests ({total / elapsed:.0f}/s)")
    for (kind, status), count in sorted(results.items()):
        print(f"[load]   {kind:6} {status}: {count}")
    if errors:
        print(f"[load] {len(errors)} errors:")
        for error in errors[:20]:
            print(f"[load]   {error}")
        sys.exit(1)
    print("[load] no errors")


if __name__ == "__main__":
    main()
