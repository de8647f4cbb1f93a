#!/usr/bin/env python3
"""`make smoke API=<url>`: checks a deployment end to end, as a client sees it, and says what
failed. It registers a user of its own, logs in, creates a tool, reads it twice (the second read
from the cache), finds it in its owner's list (and in its MCP-shaped form), reads it conditionally, updates it, deletes it and
logs out; the tool is deleted again on the way out whatever failed. Standard library only.

Usage: dev/smoke.py [--api http://127.0.0.1:9000]
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid


class Failed(Exception):
    pass


class Api:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.token = None

    def call(self, method, path, body=None, headers=None):
        """Returns (status, headers, parsed JSON or None)."""
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, answer, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, answer, raw = error.code, error.headers, error.read()
        except (urllib.error.URLError, OSError) as error:
            raise Failed(f"{method} {path}: no answer ({error})") from None
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
        return status, answer, parsed


def expect(what, status, wanted, body):
    if status != wanted:
        raise Failed(f"{what}: {status}, expected {wanted}: {body}")


def run(api):
    steps = []

    def step(name):
        steps.append(name)
        print(f"  ok  {name}")

    status, _, body = api.call("GET", "/tools?limit=1")
    expect("GET /tools", status, 200, body)
    step("the catalogue answers")

    email = f"smoke-{uuid.uuid4().hex}@example.com"
    password = f"smoke {uuid.uuid4().hex}"
    status, _, user = api.call("POST", "/auth/register", {"email": email, "password": password})
    expect("register", status, 201, user)
    status, _, login = api.call("POST", "/auth/login", {"email": email, "password": password})
    expect("log in", status, 200, login)
    api.token = login["accessToken"]
    step("register and log in")

    tool = {
        "name": f"smoke.check_{uuid.uuid4().hex[:12]}",
        "description": "Created by make smoke and deleted right after",
        "category": "testing",
        "inputSchema": {"type": "object"},
    }
    status, headers, created = api.call("POST", "/tools", tool)
    expect("create", status, 201, created)
    tool_id = created["id"]
    try:
        step("create a tool")
        path = f"/tools/{tool_id}"
        status, _, first = api.call("GET", path)
        expect("read", status, 200, first)
        status, headers, second = api.call("GET", path)
        expect("read again", status, 200, second)
        if headers.get("X-Cache") != "HIT":
            raise Failed(f"read again: X-Cache {headers.get('X-Cache')}, expected HIT")
        step("read it twice, the second from the cache")

        status, _, page = api.call("GET", f"/tools?ownerId={user['id']}")
        expect("list", status, 200, page)
        if [item["id"] for item in page["items"]] != [tool_id]:
            raise Failed(f"list of the owner's tools: {page}")
        step("find it in its owner's list")

        status, _, page = api.call("GET", f"/tools?ownerId={user['id']}&format=mcp")
        expect("the MCP-shaped list", status, 200, page)
        missing = {"tools", "ttlMs", "cacheScope", "resultType"} - set(page or {})
        listed = [t.get("_meta", {}).get("mcp-tool-registry/tool", {}).get("id") for t in page.get("tools", [])]
        if missing or listed != [tool_id] or not isinstance(page["ttlMs"], int) or page["ttlMs"] < 0:
            raise Failed(f"MCP-shaped list (missing {sorted(missing)}): {page}")
        if page["resultType"] != "complete" or page["cacheScope"] not in ("public", "private"):
            raise Failed(f"MCP-shaped list: {page}")
        step("find it in the MCP-shaped list (a ListToolsResult)")

        etag = headers.get("ETag")
        status, _, body = api.call("GET", path, headers={"If-None-Match": etag})
        expect("conditional read", status, 304, body)
        step("read it conditionally (304)")

        patch = {"title": "Smoke check"}
        status, _, updated = api.call("PATCH", path, patch, headers={"If-Match": etag})
        expect("update", status, 200, updated)
        status, _, read = api.call("GET", path)
        expect("read the update", status, 200, read)
        if read.get("title") != "Smoke check" or read["revision"] != updated["revision"]:
            raise Failed(f"read after the update: {read}")
        step("update it and read the update")

        status, _, body = api.call("DELETE", path)
        expect("delete", status, 204, body)
        status, _, body = api.call("GET", path)
        expect("read the deleted tool", status, 410, body)
        tool_id = None
        step("delete it (then 410 Gone)")
    finally:
        if tool_id is not None:
            api.call("DELETE", f"/tools/{tool_id}")

    status, _, body = api.call("POST", "/auth/logout")
    expect("log out", status, 204, body)
    status, _, body = api.call("GET", "/auth/session")
    expect("the session after logging out", status, 401, body)
    step("log out (the token is refused after)")
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:9000")
    args = parser.parse_args()
    print(f"smoke check of {args.api}")
    try:
        steps = run(Api(args.api))
    except Failed as failure:
        print(f"FAILED  {failure}")
        sys.exit(1)
    print(f"all {len(steps)} steps passed")


if __name__ == "__main__":
    main()
