#!/usr/bin/env python3
"""`make scale`: a catalogue of N synthetic tools (default 1,000,000) in the `make dev` database,
then the latency of every list shape on a cache miss through the API, and the rows the database
examined for it. Figures are printed, not asserted.

    dev/with-dev.sh dev/scale.py [--tools N] [--runs R] [--seconds S]

- Tools are generated deterministically (realistic names, titles and descriptions over a Zipf
  vocabulary, 12 categories, 200 tags spread like real tags: one on about a third of the tools,
  most on a few hundred) into .local/scale/, and loaded with `mcp-admin import` for three owners.
  A catalogue that already holds N tools is not loaded again.
- Each measured request is a miss: the list generation is bumped in Redis first (as a write
  does), so the page comes from the database.
- Rows read are counted by the Data API emulator (MariaDB's handler reads of each statement) for
  the statements of that request.
"""

import argparse
import json
import math
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.path.join(ROOT, ".local")
API = "http://127.0.0.1:9000"
SOCKET = os.path.join(STATE, "mysql.sock")
GENERATION_KEY = "mcp:lists:{gen}:epoch"
OWNERS = ["scale-a@example.com", "scale-b@example.com", "scale-c@example.com"]
OWNER_SHARES = [0.80, 0.15, 0.05]
PASSWORD = "scale-password-1"

VENDORS = """github gitlab bitbucket jira confluence slack discord teams zoom notion linear asana trello
airtable salesforce hubspot zendesk intercom stripe paypal square shopify quickbooks xero twilio
sendgrid mailgun gmail outlook gcal dropbox box gdrive onedrive s3 gcs azure aws gcp cloudflare
vercel netlify heroku docker kubernetes terraform datadog sentry pagerduty grafana prometheus
postgres mysql sqlite mongodb redis elasticsearch snowflake bigquery databricks pinecone weaviate
qdrant openai anthropic huggingface replicate figma canva youtube spotify twitter reddit linkedin
wikipedia arxiv pubmed weather maps calendar contacts browser shell filesystem git npm pypi
cargo maven kafka rabbitmq supabase firebase auth0 okta vault onepassword""".split()
VERBS = """create get list update delete search send query upload download sync export import
fetch run deploy schedule cancel archive restore share comment assign merge review approve
summarize translate transcribe classify extract convert generate embed index analyze monitor
notify invite subscribe publish render resize compress validate""".split()
OBJECTS = """issue pull_request repository branch commit message channel thread file folder
document page email attachment invoice customer order payment refund subscription product
table row column record query report dashboard chart metric alert incident event calendar
meeting contact lead deal ticket task project board card comment user team role secret key
token bucket object image video audio transcript embedding vector index collection cluster
pod deployment container job pipeline build release package dependency log trace span
webhook notification form survey note snippet link bookmark""".split()
CATEGORIES = ["developer", "data", "communication", "productivity", "search", "ai", "finance",
              "media", "filesystem", "security", "commerce", "analytics"]
CATEGORY_SHARES = [0.20, 0.15, 0.12, 0.10, 0.08, 0.08, 0.06, 0.06, 0.05, 0.04, 0.03, 0.03]
REAL_TAGS = """api ai search database cloud storage email chat automation analytics security
monitoring devops git files payments crm calendar documents images video audio translation
vector llm sql nosql queue streaming auth identity notifications webhooks scheduling
reporting finance ecommerce marketing social maps weather news research science health
education legal hr travel""".split()
TAGS = REAL_TAGS + [f"t{i}" for i in range(len(REAL_TAGS), 200)]
FILLER = """data quickly securely reliably results records items details information settings
options filters fields values format output input request response account workspace
organization project service endpoint resource status history changes updates latest recent
multiple single batch large small full partial custom default optional required supported
returns using based across within between available selected specific given current new
existing remote local public private shared personal team company""".split()


def zipf_weights(n, s):
    return [1.0 / (i + 1) ** s for i in range(n)]


def pseudo_words(count, rng):
    """Pronounceable made-up words (organisation names, rare terms)."""
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words = set()
    while len(words) < count:
        syllables = rng.randint(2, 3)
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)))
    return sorted(words)


def generate(path, count, seed, start):
    """Writes `count` tools as JSON lines to `path` (names unique across files by `start`)."""
    rng = random.Random(seed)
    orgs = pseudo_words(4000, random.Random(7))
    vocabulary = FILLER + pseudo_words(6000, random.Random(11))
    vocab_weights = zipf_weights(len(vocabulary), 1.05)
    tag_weights = zipf_weights(len(TAGS), 1.2)
    with open(path, "w") as out:
        for i in range(start, start + count):
            vendor, verb, obj = rng.choice(VENDORS), rng.choice(VERBS), rng.choice(OBJECTS)
            org = orgs[i % len(orgs)]
            if rng.random() < 0.3:
                name = f"{org}.{vendor}.{verb}{obj.title().replace('_', '')}{i // len(orgs)}"
            else:
                name = f"{org}.{vendor}_{verb}_{obj}_{i // len(orgs)}"
            words = rng.choices(vocabulary, vocab_weights, k=rng.randint(6, 14))
            if rng.random() < 0.025:
                words.append("vector")
            if rng.random() < 0.0001:
                words.append("zebra")
            description = (f"{verb.title()} a {obj.replace('_', ' ')} in {vendor.title()}. "
                           f"Use it to {rng.choice(VERBS)} {' '.join(words)}.")
            n_tags = min(len(TAGS), max(0, int(rng.expovariate(1 / 1.3) + 0.5)))
            tags = sorted(set(rng.choices(TAGS, tag_weights, k=n_tags)))
            tool = {
                "name": name,
                "title": f"{verb.title()} {obj.replace('_', ' ')} ({vendor})",
                "description": description,
                "category": rng.choices(CATEGORIES, CATEGORY_SHARES)[0],
                "tags": tags,
                "version": f"{rng.randint(0, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
                "status": "deprecated" if rng.random() < 0.05 else "active",
                "inputSchema": {"type": "object", "properties": {
                    obj: {"type": "string", "description": f"The {obj.replace('_', ' ')}"}},
                    "required": [obj]},
            }
            out.write(json.dumps(tool, separators=(",", ":")) + "\n")


def http(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(API + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        payload, status = error.read(), error.code
    return status, payload, time.perf_counter() - started


def sql(statement):
    result = subprocess.run(["mariadb", f"--socket={SOCKET}", "-uroot", "-N", "-B", "-e", statement],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


class Redis:
    """Just enough RESP to bump the list generation."""

    def __init__(self, port=6379):
        self.sock = socket.create_connection(("127.0.0.1", port))

    def incr(self, key):
        self.sock.sendall(f"*2\r\n$4\r\nINCR\r\n${len(key)}\r\n{key}\r\n".encode())
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += self.sock.recv(64)
        if not reply.startswith(b":"):
            raise RuntimeError(f"INCR {key}: {reply!r}")


def admin_env():
    env = dict(os.environ)
    env.update({"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ENDPOINT_URL_RDS_DATA": "http://127.0.0.1:8080",
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:8080", "DB_NAME": "mcp"})
    return env


def load(count):
    present = int(sql("SELECT COUNT(*) FROM mcp.tools"))
    if present >= count:
        print(f"[scale] the catalogue holds {present:,} tools; not loading")
        return
    for email in OWNERS:
        status, body, _ = http("POST", "/auth/register", {"email": email, "password": PASSWORD})
        if status not in (201, 409):
            sys.exit(f"[scale] registering {email}: {status} {body[:200]!r}")
    os.makedirs(os.path.join(STATE, "scale"), exist_ok=True)
    subprocess.run(["cargo", "build", "--quiet", "-p", "admin"], cwd=ROOT, check=True)
    start, files = 0, []
    for email, share in zip(OWNERS, OWNER_SHARES):
        n = round(count * share)
        path = os.path.join(STATE, "scale", f"{email.split('@')[0]}-{n}.jsonl")
        if not os.path.exists(path):
            began = time.time()
            generate(path + ".part", n, seed=start + 1, start=start)
            os.rename(path + ".part", path)
            print(f"[scale] generated {n:,} tools in {time.time() - began:.0f} s: {path}")
        files.append((email, path, n))
        start += n
    # The owners' tools are imported in alternating slices, so their creation times interleave
    # as a real catalogue's do (one owner's tools all newer than another's would make every
    # owner filter in a time order walk the other's first). Few slices: each is one import,
    # whose last batches overlap less.
    rounds = 10
    readers = [(email, open(path), -(-n // rounds)) for email, path, n in files]
    began, imported = time.time(), 0
    for _ in range(rounds):
        for email, reader, slice_size in readers:
            lines = [line for line in (reader.readline() for _ in range(slice_size)) if line]
            if not lines:
                continue
            subprocess.run([os.path.join(ROOT, "target", "debug", "mcp-admin"), "import", "--owner",
                            email, "-"], cwd=ROOT, env=admin_env(), check=True,
                           input="".join(lines), text=True, stdout=subprocess.DEVNULL)
            imported += len(lines)
        print(f"[scale] {imported:,} lines imported ({imported / (time.time() - began):,.0f}/s)", flush=True)


EMULATOR = "http://127.0.0.1:8080/_emulator/stats"


def count_rows(on):
    """Has the Data API emulator count the rows MariaDB reads for each statement."""
    request = urllib.request.Request(EMULATOR, data=json.dumps({"countRowsRead": on}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


def rows_read():
    """Rows MariaDB has read for the emulator's statements so far (the sweeper's included: a few
    rows a second)."""
    with urllib.request.urlopen(EMULATOR, timeout=10) as response:
        return json.loads(response.read())["rowsRead"]


def words(text):
    """The search's words of `text` (domain::search: runs of letters and digits, and their
    camelCase parts, lowercased)."""
    found = set()
    for run in re.split(r"[^0-9A-Za-z]+", text):
        if run:
            found.add(run.lower())
            found.update(part.lower() for part in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", run))
    return found


def holds_all(tool, whole, prefix):
    """Whether `tool` holds every word of `whole` and a word beginning with `prefix`."""
    held = set()
    for text in [tool["name"], tool.get("title", ""), tool["description"], " ".join(tool["tags"])]:
        held |= words(text)
    return all(w in held for w in whole) and any(w.startswith(prefix) for w in held)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(redis, path, runs):
    """`runs` misses of `path` timed, then one more with the rows it read counted (counting costs
    a few status queries per statement, kept out of the times)."""
    times, statuses = [], set()
    body = b""
    for _ in range(runs):
        redis.incr(GENERATION_KEY)
        status, body, elapsed = http("GET", path)
        times.append(elapsed * 1000)
        statuses.add(status)
    count_rows(True)
    try:
        redis.incr(GENERATION_KEY)
        before = rows_read()
        http("GET", path)
        rows = [rows_read() - before]
    finally:
        count_rows(False)
    return times, statuses, rows, body


def shapes(owner):
    since = "2026-01-01T00:00:00Z"
    filters = {"category": "category=finance", "status": "status=deprecated", "owner": f"ownerId={owner}",
               "tag": "tag=t150", "common tag": "tag=api", "updatedSince": f"updatedSince={since}"}
    listed = [("no filter", "")]
    listed += [(name, value) for name, value in filters.items()]
    names = list(filters)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if {a, b} != {"tag", "common tag"}:
                listed.append((f"{a} + {b}", f"{filters[a]}&{filters[b]}"))
    result = []
    for name, query in listed:
        for sort in ["name", "-name", "createdAt", "-createdAt", "updatedAt", "-updatedAt"]:
            joined = "&".join(part for part in (query, f"sort={sort}") if part)
            result.append((f"{name}, sort={sort}", f"/tools?{joined}"))
    searches = {"common word": "vector", "rare word": "zebra", "absent word": "xylophone",
                "two words": "vector search", "task": "send email attachment",
                "prefix": "atta", "exact name": None}
    for name, q in searches.items():
        if q is None:
            continue
        result.append((f"q {name}", f"/tools?q={urllib.parse.quote(q)}"))
        result.append((f"q {name}, sort=name", f"/tools?q={urllib.parse.quote(q)}&sort=name"))
        result.append((f"q {name} + category", f"/tools?q={urllib.parse.quote(q)}&category=ai"))
        result.append((f"q {name} + tag", f"/tools?q={urllib.parse.quote(q)}&tag=api"))
    return result


def cursor_walk(redis, path, pages):
    times, rows, statuses = [], [], set()
    cursor = None
    for _ in range(pages):
        target = path + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        t, s, r, body = measure(redis, target, 1)
        times += t
        rows += r
        statuses |= s
        cursor = json.loads(body).get("nextCursor") if 200 in s else None
        if not cursor:
            break
    return times, statuses, rows


def contention(seconds):
    """4 clients sending random searches while a fifth measures category-page misses."""
    words = pseudo_words(3000, random.Random(99)) + VERBS + OBJECTS
    stop = time.time() + seconds
    counts = {"searches": 0, "errors": 0}

    def searcher(seed):
        rng = random.Random(seed)
        while time.time() < stop:
            q = " ".join(rng.choice(words) for _ in range(rng.randint(1, 3)))
            status, _, _ = http("GET", f"/tools?q={urllib.parse.quote(q)}")
            counts["searches"] += 1
            counts["errors"] += status >= 500

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    redis = Redis()
    times, statuses = [], set()
    while time.time() < stop:
        t, s, _, _ = measure(redis, "/tools?category=search", 1)
        times += t
        statuses |= s
    for thread in threads:
        thread.join()
    return times, statuses, counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--only", default="", help="measure only the shapes whose name holds this")
    args = parser.parse_args()
    # Aurora keeps its working set in memory; so does the local MariaDB for this.
    sql("SET GLOBAL innodb_buffer_pool_size = 4294967296")
    load(args.tools)
    total = int(sql("SELECT COUNT(*) FROM mcp.tools"))
    owner = sql("SELECT id FROM mcp.users WHERE email_normalized = 'scale-a@example.com'")
    redis = Redis()
    try:
        print(f"\n{total:,} tools; each request a cache miss; {args.runs} runs per shape\n")
        print(f"| shape | status | p50 ms | p99 ms | max ms | rows read (max) | items |")
        print("|---|---|---|---|---|---|---|")
        worst = 0.0
        for name, path in shapes(owner):
            if args.only not in name:
                continue
            measure(redis, path, 1)  # warm the function and the pages
            times, statuses, rows, body = measure(redis, path, args.runs)
            items = len(json.loads(body).get("items", [])) if 200 in statuses else "-"
            worst = max(worst, max(times))
            print(f"| {name} | {','.join(map(str, sorted(statuses)))} | {percentile(times, 50):.0f} | "
                  f"{percentile(times, 99):.0f} | {max(times):.0f} | {max(rows):,} | {items} |", flush=True)
        for name, path in [("30-page walk, q=vector", "/tools?q=vector"),
                           ("30-page walk, sort=-createdAt", "/tools?sort=-createdAt&limit=20"),
                           ("30-page walk, tag=api", "/tools?tag=api")]:
            times, statuses, rows = cursor_walk(redis, path, 30)
            print(f"| {name} ({len(times)} pages) | {','.join(map(str, sorted(statuses)))} | "
                  f"{percentile(times, 50):.0f} | {percentile(times, 99):.0f} | {max(times):.0f} | "
                  f"{max(rows):,} | - |", flush=True)
        status, body, _ = http("GET", "/tools?q=vector%20search&limit=100")
        items = json.loads(body)["items"] if status == 200 else []
        both = [holds_all(t, ["vector"], "search") for t in items]
        print(f"\nq=vector search, first page of 100: {sum(both)} hold both words; "
              f"{'all of them before' if both == sorted(both, reverse=True) else 'NOT all before'} "
              f"those holding one")
    finally:
        count_rows(False)
    times, statuses, counts = contention(args.seconds)
    print(f"\ncontention: 4 clients sent {counts['searches']:,} random searches in {args.seconds} s "
          f"({counts['errors']} 5xx); meanwhile category=search misses: p50 {percentile(times, 50):.0f} ms, "
          f"p99 {percentile(times, 99):.0f} ms over {len(times)} requests, statuses {sorted(statuses)}")


if __name__ == "__main__":
    main()
