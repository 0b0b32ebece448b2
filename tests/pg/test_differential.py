"""Differential test: the same seeded data on SQLite and on PostgreSQL, one
server on each, and hundreds of random list requests (plus invalid ones and
single-item GETs) sent to both.  CONTRACT.md §2: "Results are identical on
SQLite and PostgreSQL" -- so status codes, parsed bodies and raw body bytes
must all be equal.

The random requests come from a fixed seed, printed at the start; set
FIREMODE_DIFF_SEED to replay another one (FIREMODE_DIFF_COUNT changes how
many random list requests are made, default 1000; FIREMODE_DIFF_VERBOSE=1 prints
each one with its status and item count).
"""
import datetime
import json
import math
import os
import random
import urllib.parse

import pytest

import pgfm

SEED_ARGS = dict(users=300, workspaces=4, documents=3000, jobs=1500, configs=120, sessions=50)
DATA_SEED = 11
TOKEN = "diff-admin-token-0123456789"
DEFAULT_DIFF_SEED = 20250301

SORTS = {
    "users": ["id", "created_at", "updated_at", "email", "display_name", "last_login_at"],
    "workspaces": ["id", "created_at", "name"],
    "documents": ["id", "created_at", "last_run_at", "byte_size", "original_filename", "status"],
    "jobs": ["id", "created_at", "queued_at", "started_at", "completed_at", "status"],
    "configs": ["id", "created_at", "updated_at", "slug", "title"],
}
PK = {"users": "user_id", "workspaces": "workspace_id", "documents": "document_id", "jobs": "job_id",
      "configs": "config_id"}
DOC_STATUS = ["uploaded", "queued", "processing", "processed", "failed"]
DOC_SOURCE = ["upload", "email", "api", "import"]
JOB_STATUS = ["queued", "running", "succeeded", "failed", "cancelled"]
BOOL_TRUE = ["true", "True", "TRUE", "1", "yes", "on", "On"]
BOOL_FALSE = ["false", "False", "0", "no", "off", "OFF"]
TS_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"
UTC = datetime.timezone.utc


# ---- the two servers ---------------------------------------------------------

class Pair:
    def __init__(self, lite, pg):
        self.lite = lite  # Server on SQLite
        self.pg = pg  # Server on PostgreSQL
        self.compared = 0
        self.cursor_pages = 0
        self.failures = []

    def fetch(self, target):
        a = pgfm.request(self.lite.port, "GET", target, token=TOKEN)
        b = pgfm.request(self.pg.port, "GET", target, token=TOKEN)
        return a, b

    def compare(self, target, expect=None, check_etag=False, follow=True):
        """GET target on both; record a failure when they differ.  Returns the
        SQLite answer."""
        a, b = self.fetch(target)
        self.compared += 1
        problem = difference(a, b, check_etag)
        if problem is None:
            for r, name in ((a, "sqlite"), (b, "postgresql")):
                if r.status >= 500:
                    problem = "%s answered %d: %r" % (name, r.status, r.body[:300])
                elif expect is not None and r.status not in expect:
                    problem = "%s answered %d, expected one of %s: %r" % (name, r.status, sorted(expect), r.body[:300])
        if problem is not None:
            self.failures.append("GET %s\n    %s" % (target, problem))
        elif a.status == 200 and follow and "page=" not in target:
            self.follow_cursors(target, a, b)
        return a

    def follow_cursors(self, target, a, b, depth=3):
        """Walks on with each server's own next_cursor: the pages must agree."""
        base = target.split("?")[0]
        for _ in range(depth):
            ca, cb = json.loads(a.body).get("next_cursor"), json.loads(b.body).get("next_cursor")
            if (ca is None) != (cb is None):
                self.failures.append("GET %s\n    next_cursor null on one side only" % target)
                return
            if ca is None:
                return
            a = pgfm.request(self.lite.port, "GET", "%s?cursor=%s" % (base, ca), token=TOKEN)
            b = pgfm.request(self.pg.port, "GET", "%s?cursor=%s" % (base, cb), token=TOKEN)
            self.compared += 1
            self.cursor_pages += 1
            problem = difference(a, b)
            if problem is None and a.status != 200:
                problem = "cursor page answered %d: %r" % (a.status, a.body[:300])
            if problem is not None:
                self.failures.append("GET %s (cursor page)\n    %s" % (target, problem))
                return

    def report(self, what):
        if self.failures:
            head = "\n".join(self.failures[:8])
            pytest.fail("%s: %d of %d requests differ between SQLite and PostgreSQL (first %d):\n%s"
                        % (what, len(self.failures), self.compared, min(8, len(self.failures)), head),
                        pytrace=False)


def first_json_diff(a, b, path="$"):
    if type(a) is not type(b):
        return "%s: %r vs %r" % (path, short(a), short(b))
    if isinstance(a, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return "%s.%s: only in %s" % (path, k, "sqlite" if k in a else "postgresql")
            d = first_json_diff(a[k], b[k], "%s.%s" % (path, k))
            if d:
                return d
        if list(a) != list(b):
            return "%s: key order %s vs %s" % (path, list(a), list(b))
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            ids_a = [x.get(next(iter(x)), None) if isinstance(x, dict) else x for x in a][:6]
            ids_b = [x.get(next(iter(x)), None) if isinstance(x, dict) else x for x in b][:6]
            return "%s: %d vs %d elements (first: %s vs %s)" % (path, len(a), len(b), ids_a, ids_b)
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_json_diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if a != b:
        return "%s: %r vs %r" % (path, short(a), short(b))
    return None


def short(v):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 160 else s[:160] + "..."


class _Body:
    def __init__(self, r):
        self.status = r.status
        self.body = pgfm.without_tokens(r.body)
        self.header = r.header


def difference(a, b, check_etag=False):
    """None when the two answers agree, else a one-line description."""
    a, b = _Body(a), _Body(b)
    if a.status != b.status:
        return "status sqlite %d vs postgresql %d; bodies %r / %r" % (a.status, b.status, a.body[:200], b.body[:200])
    if check_etag and a.header("ETag") != b.header("ETag"):
        return "ETag sqlite %r vs postgresql %r" % (a.header("ETag"), b.header("ETag"))
    if a.body == b.body:
        return None
    try:
        ja, jb = json.loads(a.body), json.loads(b.body)
    except ValueError:
        return "bodies differ and are not both JSON: %r / %r" % (a.body[:200], b.body[:200])
    d = first_json_diff(ja, jb)
    if d:
        return "JSON differs at " + d
    i = next(i for i in range(min(len(a.body), len(b.body)) + 1) if a.body[i:i + 1] != b.body[i:i + 1])
    return "same JSON, bytes differ at offset %d: %r vs %r" % (i, a.body[max(0, i - 40):i + 40],
                                                             b.body[max(0, i - 40):i + 40])


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    lite_url = "sqlite:%s" % (d / "diff.db")
    pg_db = pgfm.new_pg_db("fm_diff")
    pgfm.seed(lite_url, DATA_SEED, TOKEN, **SEED_ARGS)
    pgfm.seed(pg_db, DATA_SEED, TOKEN, **SEED_ARGS)
    lite = pgfm.Server(lite_url, d, node_id="lite", threads=2).spawn()
    pg = pgfm.Server(pg_db, d, node_id="pg", threads=2).spawn()
    servers = [lite, pg]
    try:
        lite.wait_healthy()
        pg.wait_healthy()
    except AssertionError:
        for s in servers:
            if s.running:
                s.proc.kill()
                s.proc.wait()
        raise
    yield Pair(lite, pg)
    pgfm.stop_all(servers)


# ---- the data, read through the API --------------------------------------------

class Data:
    """Every row of every collection, as the SQLite server lists them, plus
    the value pools the random filters draw from."""

    def __init__(self, pair):
        self.pair = pair
        ws = pair.compare("/workspaces?page_size=100").json
        self.workspaces = ws["items"]
        assert len(self.workspaces) == SEED_ARGS["workspaces"], ws
        self.ws_ids = [w["workspace_id"] for w in self.workspaces]
        self.rows = {"users": self.walk("/users", ""), "workspaces": self.workspaces}
        for coll in ("documents", "jobs", "configs"):
            self.rows[coll] = {}
            extra = "&include_deleted=true" if coll in ("documents", "configs") else ""
            for w in self.ws_ids:
                self.rows[coll][w] = self.walk("/workspaces/%s/%s" % (w, coll), extra)
        assert len(self.rows["users"]) == SEED_ARGS["users"]
        assert sum(len(v) for v in self.rows["documents"].values()) == SEED_ARGS["documents"]
        assert sum(len(v) for v in self.rows["jobs"].values()) == SEED_ARGS["jobs"]
        assert sum(len(v) for v in self.rows["configs"].values()) == SEED_ARGS["configs"]

    def walk(self, path, extra):
        out, page = [], 1
        while True:
            body = self.pair.compare("%s?page_size=100&page=%d&sort=id%s" % (path, page, extra), expect={200}).json
            out += body["items"]
            if not body["has_next"]:
                return out
            page += 1

    def all(self, coll):
        v = self.rows[coll]
        return v if isinstance(v, list) else [x for rows in v.values() for x in rows]

    def values(self, coll, field):
        return sorted({r[field] for r in self.all(coll) if r.get(field) is not None})


@pytest.fixture(scope="module")
def data(pair):
    return Data(pair)


# ---- random requests --------------------------------------------------------------

def enc(v):
    return urllib.parse.quote(str(v), safe=",-_.:")


def build(path, pairs):
    if not pairs:
        return path
    return path + "?" + "&".join("%s=%s" % (enc(k), enc(v)) for k, v in pairs)


def parse_ts(s):
    return datetime.datetime.strptime(s, TS_FMT).replace(tzinfo=UTC)


def ts_variant(rnd, s):
    """The same instant (or its day) in one of the input forms of §2."""
    dt = parse_ts(s)
    k = rnd.random()
    if k < 0.55:
        return s
    if k < 0.7:
        return dt.astimezone(datetime.timezone(datetime.timedelta(hours=rnd.choice([2, -5, 5.5])))).isoformat()
    if k < 0.8:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")  # naive: UTC
    if k < 0.9:
        return dt.strftime("%Y-%m-%d")  # a date: midnight UTC
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def gen_sort(rnd, coll):
    fields = SORTS[coll]
    k = rnd.choice([1, 1, 2, 2, 3])
    chosen = rnd.sample(fields, k)
    parts = []
    for f in chosen:
        s = ("-" if rnd.random() < 0.5 else "") + f
        if rnd.random() < 0.1:
            s = s.upper()
        elif rnd.random() < 0.1:
            s = s.capitalize() if not s.startswith("-") else "-" + s[1:].capitalize()
        if rnd.random() < 0.1:
            s = " %s " % s
        parts.append(s)
    if len(parts) < 3 and rnd.random() < 0.08:
        parts.append(rnd.choice(["", "-"]) + chosen[0])  # named twice: first wins
    return ",".join(parts)


def gen_enum_in(rnd, key, values, anchor_value=None):
    """1..3 values (always holding anchor_value when given), as CSV, repeated,
    with empty items, or a mix of both."""
    chosen = rnd.sample(values, rnd.randint(1, min(3, len(values))))
    if anchor_value is not None and anchor_value not in chosen:
        chosen[0] = anchor_value
    form = rnd.random()
    if form < 0.45 or len(chosen) == 1:
        return [(key, ",".join(chosen))]
    if form < 0.8:
        return [(key, v) for v in chosen]
    if form < 0.9:
        return [(key, chosen[0] + ",," + ",".join(chosen[1:]))]  # empty items are ignored
    return [(key, chosen[0]), (key, ",".join(chosen[1:]))]


def gen_range(rnd, out, from_key, to_key, stamps, anchor=None):
    """A [from, to) filter.  With anchor (a timestamp of the anchor row) the
    range mostly holds it, often with the anchor itself as a boundary."""
    if not stamps:
        return
    if anchor is None:
        anchor = rnd.choice(stamps)
        consistent = False
    else:
        consistent = True
    i = stamps.index(anchor)
    lower = stamps[rnd.randint(max(0, i - 40), i)]
    upper = stamps[rnd.randint(i, min(len(stamps) - 1, i + 40))]
    later = (parse_ts(anchor) + datetime.timedelta(microseconds=1)).strftime(TS_FMT)
    k = rnd.random()
    if k < 0.3:
        out += [(from_key, ts_variant(rnd, lower)), (to_key, upper if upper > anchor else later)]
    elif k < 0.45:
        out.append((from_key, ts_variant(rnd, lower)))
    elif k < 0.6:
        out.append((to_key, ts_variant(rnd, upper) if upper > anchor else later))
    elif k < 0.72:
        out.append((from_key, anchor))  # inclusive lower bound: holds the anchor
    elif k < 0.82:
        out += [(from_key, anchor), (to_key, later)]  # [a, a+1us): exactly the anchor's instant
    elif k < 0.9 or not consistent:
        out.append((to_key, anchor))  # exclusive upper bound: leaves the anchor out
    else:
        out += [(from_key, anchor), (to_key, anchor)]  # [a, a): empty


def substring(rnd, s, lo, hi):
    if len(s) < lo:
        return s
    n = rnd.randint(lo, min(hi, len(s)))
    i = rnd.randint(0, len(s) - n)
    return s[i:i + n]


def mix_case(rnd, s):
    k = rnd.random()
    if k < 0.35:
        return s
    if k < 0.55:
        return s.upper()  # non-ASCII letters change too: they must not match on either backend
    if k < 0.7:
        return s.lower()
    return "".join(c.swapcase() if rnd.random() < 0.5 else c for c in s)


def gen_q(rnd, text, lo=2, hi=10):
    """A search string drawn from text: mixed case, sometimes with a literal
    % or _ added, sometimes padded (q is trimmed)."""
    k = rnd.random()
    if k < 0.06:
        return rnd.choice(["%%", "_%", "a%b", "%_", "__", "\\_", "100%"]) + rnd.choice(["", "x"])
    s = substring(rnd, text, lo, hi)
    if len(s) < lo:
        s = s + "x"
    s = mix_case(rnd, s)
    if k < 0.18:
        i = rnd.randint(0, len(s))
        s = s[:i] + rnd.choice(["%", "_"]) + s[i:]
    elif k < 0.26:
        s = " %s  " % s
    return s


def gen_bool(rnd, value=None):
    if value is None:
        return rnd.choice(BOOL_TRUE + BOOL_FALSE)
    return rnd.choice(BOOL_TRUE if value else BOOL_FALSE)


NO_ID = "01900000-0000-7000-8000-000000000000"


class Gen:
    """Random list requests.  Each request picks an anchor row and draws most
    filter values so that the anchor matches (else many combinations would
    answer empty pages); about one value in five is drawn freely."""

    def __init__(self, rnd, data):
        self.rnd = rnd
        self.d = data
        self.stamps = {}

    def stamps_of(self, coll, field, ws=None):
        key = (coll, field, ws)
        if key not in self.stamps:
            rows = self.d.rows[coll][ws] if ws else self.d.all(coll)
            self.stamps[key] = sorted({r[field] for r in rows if r.get(field)})
        return self.stamps[key]

    def filters(self, coll, ws):
        rnd = self.rnd
        rows = self.d.rows[coll][ws] if ws else self.d.all(coll)
        live = [r for r in rows if not r.get("deleted_at")] or rows
        a = rnd.choice(rows if rnd.random() < 0.15 else live)  # the anchor
        out = []

        def keep():  # draw this filter so that the anchor matches?
            return rnd.random() < 0.8

        def other(field, extra=()):
            vals = sorted({r[field] for r in rows if r.get(field)}) + list(extra)
            return rnd.choice(vals) if vals else extra[0]

        def eq(key, field, missing):
            v = a.get(field) if keep() else None
            out.append((key, v if v is not None else other(field, [missing])))

        def rng(from_key, to_key, field):
            stamps = self.stamps_of(coll, field, ws)
            gen_range(rnd, out, from_key, to_key, stamps, a[field] if a.get(field) and keep() else None)

        def is_null(field):
            out.append((field + "_is_null", gen_bool(rnd, a.get(field) is None if keep() else None)))

        def q(*fields):
            texts = [a[f] for f in fields if a.get(f)]
            if not texts or not keep():
                texts = [r[f] for r in rnd.sample(rows, 1) for f in fields if r.get(f)] or ["zz"]
            out.append(("q", gen_q(rnd, rnd.choice(texts))))

        if coll == "users":
            opts = {
                "q": lambda: q("email", "display_name"),
                "is_active": lambda: out.append(("is_active", gen_bool(rnd, a["is_active"] if keep() else None))),
                "is_service_account": lambda: out.append(
                    ("is_service_account", gen_bool(rnd, a["is_service_account"] if keep() else None))),
                "created": lambda: rng("created_at_from", "created_at_to", "created_at"),
                "login": lambda: rng("last_login_from", "last_login_to", "last_login_at"),
                "dn_null": lambda: is_null("display_name"),
                "login_null": lambda: is_null("last_login_at"),
            }
        elif coll == "workspaces":
            opts = {"q": lambda: q("name")}
        elif coll == "documents":
            tags = sorted({t for r in rows for t in r["tags"]})
            opts = {
                "status": lambda: out.extend(gen_enum_in(rnd, "status_in", DOC_STATUS, a["status"] if keep() else None)),
                "source": lambda: out.extend(gen_enum_in(rnd, "source_in", DOC_SOURCE, a["source"] if keep() else None)),
                "uploader": lambda: eq("uploaded_by_user_id", "uploaded_by_user_id", NO_ID),
                "created": lambda: rng("created_at_from", "created_at_to", "created_at"),
                "last_run": lambda: rng("last_run_from", "last_run_to", "last_run_at"),
                "q": lambda: q("original_filename"),
                "deleted": lambda: out.append(("include_deleted", gen_bool(rnd, bool(a.get("deleted_at")) or None))),
                "tags": lambda: out.extend(gen_enum_in(
                    rnd, "tag_in", tags + [rnd.choice(tags).lower(), rnd.choice(tags).upper(), "no-such-tag"],
                    rnd.choice(a["tags"]) if a["tags"] and keep() else None)),
                "lr_null": lambda: is_null("last_run_at"),
            }
        elif coll == "jobs":
            opts = {
                "status": lambda: out.extend(gen_enum_in(rnd, "status_in", JOB_STATUS, a["status"] if keep() else None)),
                "config": lambda: eq("config_id", "config_id", NO_ID),
                "version": lambda: eq("config_version_id", "config_version_id", "v999"),
                "submitter": lambda: eq("submitted_by_user_id", "submitted_by_user_id", NO_ID),
                "trace": lambda: eq("trace_id", "trace_id", "trace-none"),
                "retry": lambda: eq("retry_of_job_id", "retry_of_job_id", NO_ID),
                "created": lambda: rng("created_at_from", "created_at_to", "created_at"),
            }
            for f in ("config_version_id", "trace_id", "retry_of_job_id", "started_at", "completed_at"):
                opts[f + "_null"] = (lambda f=f: is_null(f))
        else:  # configs
            opts = {
                "slug": lambda: eq("slug", "slug", "no-such-slug"),
                "title": lambda: out.append(("title", mix_case(rnd, substring(
                    rnd, a["title"] if keep() else other("title"), 1, 12)))),
                "creator": lambda: eq("created_by_user_id", "created_by_user_id", NO_ID),
                "created": lambda: rng("created_at_from", "created_at_to", "created_at"),
                "deleted": lambda: out.append(("include_deleted", gen_bool(rnd, bool(a.get("deleted_at")) or None))),
            }
        n = rnd.choice([0, 1, 1, 1, 2, 2, 3])
        for name in rnd.sample(sorted(opts), min(n, len(opts))):
            opts[name]()
        return out

    def list_request(self, coll, ws):
        """(path, pairs, size of the unfiltered collection)."""
        rnd = self.rnd
        path = "/workspaces/%s/%s" % (ws, coll) if ws else "/" + coll
        pairs = self.filters(coll, ws)
        if rnd.random() < 0.8:
            pairs.append(("sort", gen_sort(rnd, coll)))
        size = rnd.choice([rnd.randint(1, 100), rnd.choice([1, 2, 3, 5, 10, 25, 50, 100])])
        if rnd.random() < 0.9:
            pairs.append(("page_size", size))
        else:
            size = 25
        if rnd.random() < 0.3:
            pairs.append(("include_total", gen_bool(rnd)))
        rnd.shuffle(pairs)
        n = len(self.d.rows[coll][ws]) if ws else len(self.d.rows[coll])
        return path, pairs, size, n


def test_differential_lists(pair, data):
    diff_seed = int(os.environ.get("FIREMODE_DIFF_SEED", DEFAULT_DIFF_SEED))
    count = int(os.environ.get("FIREMODE_DIFF_COUNT", 1000))
    verbose = bool(os.environ.get("FIREMODE_DIFF_VERBOSE"))
    pgfm.note("\ndifferential: FIREMODE_DIFF_SEED=%d (set it to replay), %d random list requests" % (diff_seed, count))
    walked = pair.compared
    rnd = random.Random(diff_seed)
    gen = Gen(rnd, data)
    targets = [("users", None), ("workspaces", None)] + [(c, w) for c in ("documents", "jobs", "configs")
                                                          for w in data.ws_ids]
    per_coll = {}
    statuses = {}
    stats = {"nonempty": 0, "total": 0, "with_total": 0}

    def send(coll, path, pairs):
        target = build(path, pairs)
        r = pair.compare(target)
        items = None
        if r.status == 200:
            body = r.json
            items = len(body["items"])
            stats["nonempty"] += items > 0
            stats["with_total"] += "total" in body
        if verbose:
            print("  %d %s %s" % (r.status, "-" if items is None else items, target))
        statuses[r.status] = statuses.get(r.status, 0) + 1
        per_coll[coll] = per_coll.get(coll, 0) + 1
        stats["total"] += 1
        return r

    for i in range(count):
        if i < len(targets):
            coll, ws = targets[i]
        else:
            coll = rnd.choice(sorted(SORTS))
            ws = rnd.choice(data.ws_ids) if coll not in ("users", "workspaces") else None
        path, pairs, size, n = gen.list_request(coll, ws)
        last = max(1, math.ceil(n / size))
        k = rnd.random()
        if k < 0.2:
            # the real last page of this filtered set (from its total), then that page and the next
            probe = send(coll, path, [p for p in pairs if p[0] != "include_total"] + [("include_total", "true")])
            if probe.status == 200:
                flast = max(1, math.ceil(probe.json["total"] / size))
                for page in (flast, flast + 1):
                    send(coll, path, pairs + [("page", page)])
            continue
        if k < 0.75:
            page = 1 if rnd.random() < 0.6 else None
        elif k < 0.88:
            page = rnd.randint(2, 4)
        elif k < 0.95:
            page = rnd.randint(1, last)  # deep, within the unfiltered range
        else:
            page = last + rnd.randint(1, 50)  # past the end
        if page is not None:
            pairs.insert(rnd.randint(0, len(pairs)), ("page", page))
        send(coll, path, pairs)
    pgfm.note("differential: %d requests compared in all (%d reading the data, %d random lists and probes); "
          "statuses %s; %d non-empty pages, %d with total; per collection %s; %d cursor pages followed on each side"
          % (pair.compared, walked, stats["total"], statuses, stats["nonempty"], stats["with_total"], per_coll,
             pair.cursor_pages))
    assert pair.cursor_pages > 100, pair.cursor_pages
    pair.report("list requests")
    # the generator must mostly produce valid, non-trivial requests
    assert statuses.get(200, 0) >= 0.9 * stats["total"], statuses
    assert stats["nonempty"] >= 0.6 * stats["total"], stats
    assert set(per_coll) == set(SORTS), per_coll


INVALID = [
    # (collection, query) -- every one must be answered 422 (or 400), identically
    ("users", "sort=nope"),
    ("users", "sort=email,-nope"),
    ("users", "sort=id,email,created_at,updated_at"),
    ("users", "is_active=maybe"),
    ("users", "q=a"),
    ("users", "q="),
    ("users", "q=" + "x" * 129),
    ("users", "last_login_from=yesterday"),
    ("users", "created_at_to=2025-13-01"),
    ("users", "page_size=0"),
    ("users", "page_size=101"),
    ("workspaces", "page_size=abc"),
    ("workspaces", "page=0"),
    ("workspaces", "page=-1"),
    ("workspaces", "name=x"),
    ("workspaces", "page=1&page=2"),
    ("workspaces", "sort=-created_at,bogus"),
    ("documents", "status_in=done"),
    ("documents", "status_in=queued,Done"),
    ("documents", "source_in=fax"),
    ("documents", "status_in=,,"),
    ("documents", "status_in="),
    ("documents", "bogus=1"),
    ("documents", "sort=title"),
    ("documents", "include_deleted=perhaps"),
    ("documents", "include_total=2"),
    ("documents", "deleted_at_is_null=true"),
    ("documents", "last_run_at_is_null=sometimes"),
    ("documents", "tag_in="),
    ("documents", "page_size=25&page_size=25"),
    ("jobs", "status_in=succeeded,done"),
    ("jobs", "config_version_id="),
    ("jobs", "trace_id=" + "t" * 129),
    ("jobs", "sort=-started_at,ended_at"),
    ("jobs", "q=abc"),
    ("jobs", "created_at_from=not-a-date"),
    ("configs", "title=%20%20%20"),
    ("configs", "slug="),
    ("configs", "sort=name"),
    ("configs", "page_size=1e2"),
    ("configs", "unknown_key=1&page=1"),
]


def test_differential_invalid(pair, data):
    pair.failures = []
    start = pair.compared
    ws = data.ws_ids[0]
    for coll, query in INVALID:
        path = "/" + coll if coll in ("users", "workspaces") else "/workspaces/%s/%s" % (ws, coll)
        r = pair.compare(path + "?" + query, expect={400, 422})
        if r.status == 422:
            detail = r.json.get("detail")
            assert detail, (path, query, r)
    pgfm.note("\ndifferential: %d invalid requests compared" % (pair.compared - start))
    pair.report("invalid requests")


def test_differential_items(pair, data):
    pair.failures = []
    start = pair.compared
    rnd = random.Random(int(os.environ.get("FIREMODE_DIFF_SEED", DEFAULT_DIFF_SEED)) + 1)
    targets = []
    for u in rnd.sample(data.rows["users"], 10):
        targets.append(("/users/%s" % u["user_id"], {200}))
    for w in data.workspaces:
        targets.append(("/workspaces/%s" % w["workspace_id"], {200}))
    for coll in ("documents", "jobs", "configs"):
        rows = data.all(coll)
        for row in rnd.sample(rows, 12):
            base = "/workspaces/%s/%s/%s" % (row["workspace_id"], coll, row[PK[coll]])
            if row.get("deleted_at"):
                targets.append((base, {404}))
                targets.append((base + "?include_deleted=true", {200}))
            else:
                targets.append((base, {200}))
        deleted = [r for r in rows if r.get("deleted_at")]
        for row in deleted[:3]:
            base = "/workspaces/%s/%s/%s" % (row["workspace_id"], coll, row[PK[coll]])
            targets += [(base, {404}), (base + "?include_deleted=true", {200})]
    # an item in the wrong workspace, a malformed id, an id that does not exist
    doc = data.all("documents")[0]
    other = next(w for w in data.ws_ids if w != doc["workspace_id"])
    targets += [("/workspaces/%s/documents/%s" % (other, doc["document_id"]), {404}),
                ("/workspaces/%s/documents/not-a-uuid" % other, {404}),
                ("/users/01900000-0000-7000-8000-000000000000", {404})]
    for target, expect in targets:
        # ETag (§6) is compared when present: the same clock gives the same ETag
        pair.compare(target, expect=expect, check_etag=True)
    pgfm.note("\ndifferential: %d single-item GETs compared" % (pair.compared - start))
    assert pair.compared - start >= 50
    pair.report("single-item GETs")
