"""walklib — the model behind the randomized walk tests (CONTRACT.md §5, §8).

One example ("run_example") on one collection:

  1. a fresh scope (workspace, user) and seeded rows: NULLs in nullable sort
     fields, equal sort values, soft-deleted rows;
  2. writer threads (creates, PATCH/PUT that move rows in the sort and in
     and out of the filters, soft deletes, member adds) run for the whole walk;
  3. a walk: a random sort (1-3 fields, random directions, the tie-breaker
     implied), random filters, a random page size per page, sometimes
     include_total, sometimes the query repeated on cursor pages;
  4. the writers stop; the change feed since the first page's sync_token is
     read to its end (random limit), then a final listing with the same
     query and a dump of every row the walker may see.

Then, exactly (check()):
  (1) no row twice in the walk; the walk is in the sort's order over the
      values it returned (NULLS LAST both ways, the primary key as tie-
      breaker in the first field's direction, text in byte order, users'
      email by its ASCII lower-case); every row returned matches the filters;
  (2) a row nobody wrote during the walk that matched at its start appears
      exactly once, with the values it had;
  (3) a row written during the walk appears at most once; a row written
      after the first page appears in the feed; a row not written since the
      first page was asked for does not; the feed has each row once, as its
      current item or a tombstone, in the order of the writes;
  (4) the walk's rows with the feed applied (upsert items, drop tombstones),
      filtered, are the final listing (ids and every field);
  and the final listing is the dump filtered by the model's filters (so the
  model's idea of the filters is the server's).

Writers never write one row concurrently (a lock per row), so each row's
history of (sent, answered, state after) is exact and the state of a row
at any moment outside its writes is known.  Times are time.monotonic().

Servers: `ports` lists one or more servers on one database; walk pages,
feed pages and writers are spread over them (tests/pg/test_walks_cluster.py).
"""
import http.client
import json
import random
import threading
import time
import uuid

import fm

STATS = {"walks": 0, "pages": 0, "writes": 0, "writes_during_walks": 0, "feed_items": 0, "rows_checked": 0,
         "untouched_checked": 0, "uncertain_writes": 0, "seconds": 0.0}
_STATS_LOCK = threading.Lock()
# Every failed example's report, in order: hypothesis replays a failing
# example, and with concurrent writers the replay may pass (then it reports
# "Flaky" and the first failure is easy to miss); the summary repeats these.
FAILURES = []


def stat(key, n=1):
    with _STATS_LOCK:
        STATS[key] += n


def summary_line(label):
    s = STATS
    return ("%s: %d walks, %d pages, %d writes (%d during walks), %d feed items, %d row checks "
            "(%d untouched rows seen exactly once) in %.1f s%s"
            % (label, s["walks"], s["pages"], s["writes"], s["writes_during_walks"], s["feed_items"],
               s["rows_checked"], s["untouched_checked"], s["seconds"],
               "; %d writes answered 503 (state re-read)" % s["uncertain_writes"] if s["uncertain_writes"] else ""))


# ---- values -----------------------------------------------------------------

# Equal values on purpose: ties in every sort, boundaries for the filters.
TIMES = ["2024-05-01T00:00:00.000000Z", "2024-05-01T00:00:00.000001Z", "2024-05-01T12:00:00.000000Z",
         "2024-05-02T00:00:00.000000Z", "2024-05-02T23:59:59.999999Z", "2024-05-03T08:00:00.000000Z"]
DATES = ["2024-05-01", "2024-05-02", "2024-05-03"]
DOC_STATUS = ["uploaded", "queued", "processing", "processed", "failed"]
DOC_SOURCE = ["upload", "email", "api", "import"]
JOB_STATUS = ["queued", "running", "succeeded", "failed", "cancelled"]
SESSION_STATUS = ["scheduled", "in_progress", "completed", "failed", "cancelled"]
FILENAMES = ["plan.pdf", "Plan.PDF", "a_b%c.txt", "a_bxc.txt", "zeta.doc", "\u00c4rger.txt", "\u00e4rger.txt",
             "back\\slash.txt", "report-2024.xlsx", "Zeta.doc"]
DOC_Q = ["plan", "PLAN", "a_b", "%c", "_b", "\\s", "\u00e4rg", "ZETA", " zeta ", ".t", "xc"]
TAGS = ["a", "b", "B", "red", "\u00e4"]
SIZES = [0, 1, 1, 7, 1024]
WS_NAMES = ["Oslo", "oslo", "Bergen", "\u00c5lesund", "Zed", "bergen"]
WS_Q = ["os", "OS", "berg", "zed", "\u00e5le"]
SLUGS = ["alpha", "beta", "gamma", "delta", "a-1", "z9"]
TITLES = ["Drill", "drill", "Fire Drill", "\u00c9vac", "zz", "Zz top"]
TITLE_Q = ["dri", "DRILL", "ll", "\u00c9", "zz", " top ", "fire d"]
VERSIONS = ["v1", "v2", "V1"]
TRACES = ["t-1", "t-2", "T-1"]
TECHS = ["tech-1", "tech-2", "Tech-1"]
NOTES = [None, "", "east wing", "n"]
DISPLAY = ["Ann", "ann", "Bob", "\u00c9mile", "zed", "Zed"]
BUILDINGS = ["0190f5a4-0000-7000-8000-000000000001", "0190f5a4-0000-7000-8000-000000000002"]


def ascii_lower(s):
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def norm_time(v, through=False):
    """A filter bound as the server reads it, in the server's output form
    (which sorts as text in time order)."""
    if len(v) == 10:
        return v + ("T23:59:59.999999Z" if through else "T00:00:00.000000Z")
    assert len(v) == 27 and v.endswith("Z"), v
    return v


def now():
    return time.monotonic()


# Writes whose answers are checked against the server's /openapi.json
# (fm.CHECK, as every answer of the suite is): a sample, since the check
# costs more than the request and writers should keep up with walks.
# Every answer of a walk, a feed and a listing is checked.
WRITE_CHECK_SAMPLE = 0.1


class Client(fm.Client):
    """fm.Client; with checked=False the answer skips fm.CHECK."""

    def __init__(self, port, token=None, checked=True):
        fm.Client.__init__(self, port, token)
        self.checked = checked

    def request(self, method, path, json_body=fm._UNSET, params=None, headers=None, body=None, token=fm._UNSET,
                timeout=30):
        if self.checked:
            return fm.Client.request(self, method, path, json_body=json_body, params=params, headers=headers,
                                     body=body, token=token, timeout=timeout)
        hdrs = {}
        tok = self.token if token is fm._UNSET else token
        if tok is not None:
            hdrs["Authorization"] = "Bearer " + tok
        if json_body is not fm._UNSET:
            body = json.dumps(json_body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        url = path + fm.qs(params)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, url, body=body, headers=hdrs)
            r = conn.getresponse()
            return fm.Resp(r.status, r.getheaders(), r.read())
        finally:
            conn.close()


# ---- filters ------------------------------------------------------------------


class Filter:
    """One filter parameter: the pairs sent and the predicate on an item."""

    def __init__(self, pairs, pred, name):
        self.pairs = pairs
        self.pred = pred
        self.name = name

    def __repr__(self):
        return "&".join("%s=%s" % kv for kv in self.pairs)


def f_in(rng, param, field, pool):
    vals = rng.sample(pool, rng.randint(1, min(3, len(pool))))
    if len(vals) > 1 and rng.random() < 0.4:
        pairs = [(param, v) for v in vals]  # repeated
    else:
        pairs = [(param, ",".join(vals))]
    s = set(vals)
    return Filter(pairs, lambda it: it[field] in s, param)


def f_eq(param, field, value):
    return Filter([(param, value)], lambda it: it[field] == value, param)


def f_from(param, field, value):
    b = norm_time(value)
    return Filter([(param, value)], lambda it: it[field] is not None and it[field] >= b, param)


def f_to(param, field, value):
    b = norm_time(value)
    return Filter([(param, value)], lambda it: it[field] is not None and it[field] < b, param)


def f_through(param, field, value):
    b = norm_time(value, through=True)
    return Filter([(param, value)], lambda it: it[field] is not None and it[field] <= b, param)


def f_is_null(field, value):
    return Filter([(field + "_is_null", "true" if value else "false")], lambda it: (it[field] is None) == value,
                  field + "_is_null")


def f_search(param, fields, value):
    needle = ascii_lower(value.strip())
    return Filter([(param, value)],
                  lambda it: any(it[f] is not None and needle in ascii_lower(it[f]) for f in fields), param)


def f_tag_in(rng, pool):
    vals = rng.sample(pool, rng.randint(1, 3))
    s = set(vals)
    pairs = [("tag_in", v) for v in vals] if rng.random() < 0.5 else [("tag_in", ",".join(vals))]
    return Filter(pairs, lambda it: bool(s & set(it["tags"])), "tag_in")


def a_time(rng):
    return rng.choice(TIMES + DATES)


# ---- the collections -------------------------------------------------------------


def g(field):
    return lambda it: it[field]


class Coll:
    name = None
    pk = None
    items_key = "items"
    size_param = "page_size"
    pages = True
    deletes = False           # DELETE exists (soft)
    include_deleted = False   # include_deleted=true exists (deleted rows keep an item)
    default_sort = [("created_at", True)]
    sorts = {}                # name -> (getter, nullable)

    # scope -------------------------------------------------------------
    def setup(self, ctx, rng):
        pass

    def list_path(self, ctx):
        raise NotImplementedError

    def item_path(self, ctx, rid):
        return "%s/%s" % (self.list_path(ctx), rid)

    def changes_path(self, ctx):
        return self.list_path(ctx) + "/changes"

    def walker(self, ctx, rng):
        return ctx.owner_token

    def visible(self, ctx, item, row):
        return item

    # writes --------------------------------------------------------------
    def create(self, ctx, rng, seeding):
        """-> (token, body)"""
        raise NotImplementedError

    def patch(self, ctx, rng, row):
        """-> (method, token, body)"""
        raise NotImplementedError

    def extra_ops(self, ctx, rng):
        return []

    # reads -----------------------------------------------------------------
    def filters(self, ctx, rng):
        return []

    def is_deleted(self, item):
        return self.include_deleted and item.get("deleted_at") is not None


def maybe(rng, p=0.5):
    return rng.random() < p


class Users(Coll):
    name = "users"
    pk = "user_id"
    sorts = {"id": (g("user_id"), False), "created_at": (g("created_at"), False),
             "updated_at": (g("updated_at"), False), "email": (lambda it: ascii_lower(it["email"]), False),
             "display_name": (g("display_name"), True), "last_login_at": (g("last_login_at"), True)}

    def setup(self, ctx, rng):
        ctx.marker = "mk" + uuid.uuid4().hex[:8]

    def list_path(self, ctx):
        return "/users"

    def walker(self, ctx, rng):
        return ctx.admin_token

    def email(self, ctx, rng):
        local = rng.choice(["ann", "Ann", "bob", "ZED", "e"]) + uuid.uuid4().hex[:6]
        dom = ctx.marker + ".example" if maybe(rng, 0.8) else "other.example"
        if maybe(rng, 0.3):
            dom = dom.upper()
        return "%s@%s" % (local, dom)

    def create(self, ctx, rng, seeding):
        body = {"email": self.email(ctx, rng)}
        if maybe(rng, 0.7):
            body["display_name"] = rng.choice(DISPLAY + [None])
        if maybe(rng, 0.5):
            body["last_login_at"] = rng.choice(TIMES + [None])
        if maybe(rng, 0.6):
            body["created_at"] = rng.choice(TIMES)
        if maybe(rng, 0.2):
            body["is_active"] = False
        if maybe(rng, 0.2):
            body["is_service_account"] = True
        return ctx.admin_token, body

    def patch(self, ctx, rng, row):
        body = {}
        for _ in range(rng.randint(1, 2)):
            k = rng.choice(["display_name", "display_name", "last_login_at", "last_login_at", "email", "is_active",
                            "is_service_account"])
            if k == "display_name":
                body[k] = rng.choice(DISPLAY + [None, None])
            elif k == "last_login_at":
                body[k] = rng.choice(TIMES + [None, None])
            elif k == "email":
                body[k] = self.email(ctx, rng)
            else:
                body[k] = maybe(rng)
        return "PATCH", ctx.admin_token, body

    def filters(self, ctx, rng):
        out = []
        if maybe(rng, 0.75):
            q = ctx.marker if maybe(rng, 0.6) else rng.choice([ctx.marker.upper(), ctx.marker[:5], "ann", "ZED"])
            out.append(f_search("q", ["email", "display_name"], q))
        if maybe(rng, 0.25):
            v = maybe(rng)
            out.append(Filter([("is_active", rng.choice(["true", "True", "yes"]) if v else rng.choice(["false", "off"]))],
                              lambda it, v=v: it["is_active"] == v, "is_active"))
        if maybe(rng, 0.15):
            v = maybe(rng)
            out.append(Filter([("is_service_account", "1" if v else "0")], lambda it, v=v: it["is_service_account"] == v,
                              "is_service_account"))
        if maybe(rng, 0.2):
            out.append(f_from("created_at_from", "created_at", a_time(rng)))
        if maybe(rng, 0.2):
            out.append(f_to("created_at_to", "created_at", a_time(rng)))
        if maybe(rng, 0.2):
            out.append(f_from("last_login_from", "last_login_at", a_time(rng)))
        if maybe(rng, 0.2):
            out.append(f_to("last_login_to", "last_login_at", a_time(rng)))
        if maybe(rng, 0.15):
            out.append(f_is_null("display_name", maybe(rng)))
        if maybe(rng, 0.15):
            out.append(f_is_null("last_login_at", maybe(rng)))
        return out


class Workspaces(Coll):
    """The walker is a non-admin: it sees the workspaces it is a member of.
    The admin makes some with a chosen created_at (invisible to the walker)
    and adds the walker later: a member add is a write to the workspace."""
    name = "workspaces"
    pk = "workspace_id"
    sorts = {"id": (g("workspace_id"), False), "created_at": (g("created_at"), False), "name": (g("name"), False)}

    def list_path(self, ctx):
        return "/workspaces"

    def visible(self, ctx, item, row):
        return item if row.meta.get("member") else None

    def create(self, ctx, rng, seeding):
        body = {"name": rng.choice(WS_NAMES)}
        if maybe(rng, 0.5):
            body["created_at"] = rng.choice(TIMES)
            return ctx.admin_token, body
        return ctx.owner_token, body

    def patch(self, ctx, rng, row):
        return "PATCH", rng.choice([ctx.owner_token, ctx.admin_token]), {"name": rng.choice(WS_NAMES)}

    def extra_ops(self, ctx, rng):
        return [(3, member_add_op), (2, member_remove_op)]

    def filters(self, ctx, rng):
        if maybe(rng, 0.4):
            return [f_search("q", ["name"], rng.choice(WS_Q))]
        return []


def member_add_op(ctx, rng):
    """Adds the walker to one of the workspaces it cannot see yet."""
    rows = [r for r in ctx.rows_snapshot() if not r.meta.get("member")]
    if not rows:
        return None
    row = rng.choice(rows)
    return WriteSpec("POST", "/workspaces/%s/members" % row.id, ctx.admin_token, {"user_id": ctx.owner_id}, row=row,
                     then_get=("/workspaces/%s" % row.id, ctx.owner_token), meta={"member": True},
                     valid=lambda r: not r.meta.get("member"))


def member_remove_op(ctx, rng):
    """Removes the walker from a workspace the admin made (the admin stays
    a member): the workspace leaves the walker's list, its feed reports a
    tombstone (CONTRACT.md §9)."""
    rows = [r for r in ctx.rows_snapshot() if r.meta.get("member") and r.meta.get("admin_created")]
    if not rows:
        return None
    row = rng.choice(rows)
    return WriteSpec("DELETE", "/workspaces/%s/members/%s" % (row.id, ctx.owner_id),
                     rng.choice([ctx.admin_token, ctx.owner_token]), row=row, meta={"member": False},
                     valid=lambda r: r.meta.get("member"))


class Scoped(Coll):
    """A collection under /workspaces/{ws}: a fresh workspace per example,
    owned by a non-admin; the admin writes there too (created_at given)."""

    def setup(self, ctx, rng):
        c = ctx.client(ctx.owner_token)
        r = c.post("/workspaces", {"name": "walk " + uuid.uuid4().hex[:6]})
        assert r.status == 201, r
        ctx.ws = r.json["workspace_id"]

    def list_path(self, ctx):
        return "/workspaces/%s/%s" % (ctx.ws, self.name)

    def walker(self, ctx, rng):
        return ctx.owner_token if maybe(rng, 0.7) else ctx.admin_token

    def creator(self, ctx, rng, body):
        if maybe(rng, 0.5):
            body["created_at"] = rng.choice(TIMES)
            return ctx.admin_token
        return ctx.owner_token

    def writer_token(self, ctx, rng):
        return rng.choice([ctx.owner_token, ctx.admin_token])


class Documents(Scoped):
    name = "documents"
    pk = "document_id"
    deletes = True
    include_deleted = True
    sorts = {"id": (g("document_id"), False), "created_at": (g("created_at"), False),
             "last_run_at": (g("last_run_at"), True), "byte_size": (g("byte_size"), False),
             "original_filename": (g("original_filename"), False), "status": (g("status"), False)}

    def create(self, ctx, rng, seeding):
        body = {"original_filename": rng.choice(FILENAMES), "byte_size": rng.choice(SIZES)}
        if maybe(rng, 0.7):
            body["status"] = rng.choice(DOC_STATUS)
        if maybe(rng, 0.5):
            body["source"] = rng.choice(DOC_SOURCE)
        if maybe(rng, 0.6):
            body["tags"] = rng.sample(TAGS, rng.randint(0, 3))
        if maybe(rng, 0.6):
            body["last_run_at"] = rng.choice(TIMES + [None])
        return self.creator(ctx, rng, body), body

    def patch(self, ctx, rng, row):
        body = {}
        for _ in range(rng.randint(1, 3)):
            k = rng.choice(["last_run_at", "last_run_at", "status", "byte_size", "original_filename", "tags",
                            "source"])
            body[k] = {"last_run_at": lambda: rng.choice(TIMES + [None, None]),
                       "status": lambda: rng.choice(DOC_STATUS),
                       "byte_size": lambda: rng.choice(SIZES),
                       "original_filename": lambda: rng.choice(FILENAMES),
                       "tags": lambda: rng.sample(TAGS, rng.randint(0, 3)),
                       "source": lambda: rng.choice(DOC_SOURCE)}[k]()
        return "PATCH", self.writer_token(ctx, rng), body

    def filters(self, ctx, rng):
        out = []
        if maybe(rng, 0.3):
            out.append(f_in(rng, "status_in", "status", DOC_STATUS))
        if maybe(rng, 0.2):
            out.append(f_in(rng, "source_in", "source", DOC_SOURCE))
        if maybe(rng, 0.15):
            out.append(f_eq("uploaded_by_user_id", "uploaded_by_user_id", rng.choice([ctx.owner_id, ctx.admin_id])))
        if maybe(rng, 0.2):
            out.append(f_from("created_at_from", "created_at", a_time(rng)))
        if maybe(rng, 0.2):
            out.append(f_to("created_at_to", "created_at", a_time(rng)))
        if maybe(rng, 0.2):
            out.append(f_from("last_run_from", "last_run_at", a_time(rng)))
        if maybe(rng, 0.15):
            out.append(f_to("last_run_to", "last_run_at", a_time(rng)))
        if maybe(rng, 0.25):
            out.append(f_search("q", ["original_filename"], rng.choice(DOC_Q)))
        if maybe(rng, 0.25):
            out.append(f_tag_in(rng, TAGS))
        if maybe(rng, 0.2):
            out.append(f_is_null("last_run_at", maybe(rng)))
        return out


class Jobs(Scoped):
    name = "jobs"
    pk = "job_id"
    sorts = {"id": (g("job_id"), False), "created_at": (g("created_at"), False), "queued_at": (g("queued_at"), False),
             "started_at": (g("started_at"), True), "completed_at": (g("completed_at"), True),
             "status": (g("status"), False)}

    def setup(self, ctx, rng):
        Scoped.setup(self, ctx, rng)
        c = ctx.client(ctx.owner_token)
        ctx.configs = []
        for i in range(2):
            r = c.post("/workspaces/%s/configs" % ctx.ws, {"slug": "c%d" % i, "title": "C%d" % i})
            assert r.status == 201, r
            ctx.configs.append(r.json["config_id"])

    def job_ids(self, ctx, exclude=None):
        return [r.id for r in ctx.rows_snapshot() if r.id != exclude and r.last_state() is not None]

    def fields(self, ctx, rng, body, exclude=None, n=3):
        for _ in range(rng.randint(1, n)):
            k = rng.choice(["status", "started_at", "started_at", "completed_at", "completed_at", "queued_at",
                            "config_version_id", "trace_id", "retry_of_job_id", "config_id"])
            if k == "status":
                body[k] = rng.choice(JOB_STATUS)
            elif k in ("started_at", "completed_at"):
                body[k] = rng.choice(TIMES + [None, None])
            elif k == "queued_at":
                body[k] = rng.choice(TIMES)
            elif k == "config_version_id":
                body[k] = rng.choice(VERSIONS + [None])
            elif k == "trace_id":
                body[k] = rng.choice(TRACES + [None])
            elif k == "retry_of_job_id":
                ids = self.job_ids(ctx, exclude)
                body[k] = rng.choice(ids + [None]) if ids else None
            elif k == "config_id":
                body[k] = rng.choice(ctx.configs)
        return body

    def create(self, ctx, rng, seeding):
        body = {"config_id": rng.choice(ctx.configs)}
        if maybe(rng, 0.8):
            self.fields(ctx, rng, body)
        return self.creator(ctx, rng, body), body

    def patch(self, ctx, rng, row):
        return "PATCH", self.writer_token(ctx, rng), self.fields(ctx, rng, {}, exclude=row.id, n=2)

    def filters(self, ctx, rng):
        out = []
        if maybe(rng, 0.3):
            out.append(f_in(rng, "status_in", "status", JOB_STATUS))
        if maybe(rng, 0.15):
            out.append(f_eq("config_id", "config_id", rng.choice(ctx.configs)))
        if maybe(rng, 0.15):
            out.append(f_eq("config_version_id", "config_version_id", rng.choice(VERSIONS)))
        if maybe(rng, 0.1):
            out.append(f_eq("submitted_by_user_id", "submitted_by_user_id", rng.choice([ctx.owner_id, ctx.admin_id])))
        if maybe(rng, 0.15):
            out.append(f_eq("trace_id", "trace_id", rng.choice(TRACES)))
        if maybe(rng, 0.1):
            ids = self.job_ids(ctx)
            if ids:
                out.append(f_eq("retry_of_job_id", "retry_of_job_id", rng.choice(ids)))
        if maybe(rng, 0.2):
            out.append(f_from("created_at_from", "created_at", a_time(rng)))
        if maybe(rng, 0.2):
            out.append(f_to("created_at_to", "created_at", a_time(rng)))
        for fld in ("config_version_id", "trace_id", "retry_of_job_id", "started_at", "completed_at"):
            if maybe(rng, 0.08):
                out.append(f_is_null(fld, maybe(rng)))
        return out


class Configs(Scoped):
    name = "configs"
    pk = "config_id"
    deletes = True
    include_deleted = True
    sorts = {"id": (g("config_id"), False), "created_at": (g("created_at"), False),
             "updated_at": (g("updated_at"), False), "slug": (g("slug"), False), "title": (g("title"), False)}

    def create(self, ctx, rng, seeding):
        body = {"slug": rng.choice(SLUGS) + ("" if maybe(rng, 0.3) else "-" + uuid.uuid4().hex[:3]),
                "title": rng.choice(TITLES)}
        return self.creator(ctx, rng, body), body

    def patch(self, ctx, rng, row):
        body = {}
        if maybe(rng, 0.7):
            body["title"] = rng.choice(TITLES)
        if not body or maybe(rng, 0.4):
            body["slug"] = rng.choice(SLUGS) + ("" if maybe(rng, 0.5) else "-" + uuid.uuid4().hex[:3])
        return "PATCH", self.writer_token(ctx, rng), body

    def filters(self, ctx, rng):
        out = []
        if maybe(rng, 0.15):
            slugs = [r.last_state()["slug"] for r in ctx.rows_snapshot() if r.last_state()]
            out.append(f_eq("slug", "slug", rng.choice(slugs or SLUGS)))
        if maybe(rng, 0.3):
            out.append(f_search("title", ["title"], rng.choice(TITLE_Q)))
        if maybe(rng, 0.15):
            out.append(f_eq("created_by_user_id", "created_by_user_id", rng.choice([ctx.owner_id, ctx.admin_id])))
        if maybe(rng, 0.2):
            out.append(f_from("created_at_from", "created_at", a_time(rng)))
        if maybe(rng, 0.2):
            out.append(f_to("created_at_to", "created_at", a_time(rng)))
        return out


class Sessions(Coll):
    """/v1/tests/sessions: each caller sees its own.  The owner is a fresh
    user, an admin half of the time (then creates may set created_at)."""
    name = "sessions"
    pk = "id"
    items_key = "data"
    size_param = "limit"
    pages = False
    deletes = True
    default_sort = [("created_at", False)]
    sorts = {"id": (g("id"), False), "created_at": (g("created_at"), False), "updated_at": (g("updated_at"), False),
             "status": (g("status"), False)}

    def setup(self, ctx, rng):
        ctx.session_owner_admin = maybe(rng)
        uid, tok = make_user(ctx, admin=ctx.session_owner_admin)
        ctx.owner_id, ctx.owner_token = uid, tok

    def list_path(self, ctx):
        return "/v1/tests/sessions"

    def fields(self, rng, body, n=3):
        for _ in range(rng.randint(1, n)):
            k = rng.choice(["status", "status", "technician_id", "technician_id", "notes", "building_id"])
            body[k] = {"status": lambda: rng.choice(SESSION_STATUS),
                       "technician_id": lambda: rng.choice(TECHS + [None]),
                       "notes": lambda: rng.choice(NOTES),
                       "building_id": lambda: rng.choice(BUILDINGS)}[k]()
        return body

    def create(self, ctx, rng, seeding):
        body = self.fields(rng, {"building_id": rng.choice(BUILDINGS)})
        if ctx.session_owner_admin and maybe(rng, 0.6):
            body["created_at"] = rng.choice(TIMES)
        return ctx.owner_token, body

    def patch(self, ctx, rng, row):
        if maybe(rng, 0.3):
            return "PUT", ctx.owner_token, self.fields(rng, {"building_id": rng.choice(BUILDINGS)}, n=2)
        return "PATCH", ctx.owner_token, self.fields(rng, {}, n=2)

    def filters(self, ctx, rng):
        out = []
        if maybe(rng, 0.35):
            out.append(f_in(rng, "status", "status", SESSION_STATUS))
        if maybe(rng, 0.25):
            out.append(f_from("date_from", "created_at", a_time(rng)))
        if maybe(rng, 0.25):
            out.append(f_through("date_to", "created_at", a_time(rng)))
        if maybe(rng, 0.2):
            out.append(f_eq("technician_id", "technician_id", rng.choice(TECHS)))
        return out


COLLECTIONS = {c.name: c for c in (Users(), Workspaces(), Documents(), Jobs(), Configs(), Sessions())}


# ---- rows, writes, writers --------------------------------------------------------


class Row:
    """A row this example made: its writes in order, each (sent, answered,
    state after, what), state = the item as the walker sees it (None:
    not visible or gone)."""

    def __init__(self, rid):
        self.id = rid
        self.lock = threading.Lock()
        self.history = []
        self.meta = {}

    def last_state(self):
        return self.history[-1][2] if self.history else None

    def state_at(self, t):
        """The state at a moment t outside every write of the row."""
        st = None
        for (ts, tr, s, _) in self.history:
            if tr < t:
                st = s
        return st

    def writes_overlapping(self, t0, t1):
        return [h for h in self.history if h[0] <= t1 and h[1] >= t0]


class WriteSpec:
    def __init__(self, method, path, token, body=None, row=None, then_get=None, create=False, meta=None,
                 valid=None):
        self.method, self.path, self.token, self.body = method, path, token, body
        self.row, self.then_get, self.create = row, then_get, create
        self.meta = meta or {}  # set on the row once the write is done
        self.valid = valid      # (row) -> still worth doing, checked under the row's lock


class Ctx:
    def __init__(self, coll, ports, admin_token, rng):
        self.coll = coll
        self.ports = ports
        self.admin_token = admin_token
        self.rng = rng
        self.rows = {}
        self.rows_lock = threading.Lock()
        self.log = []  # writes, for failure reports
        self.log_lock = threading.Lock()
        self.uncertain_creates = 0  # creates answered 503: a row may exist that the model does not know
        self.port_i = 0

    def client(self, token, i=None, checked=True):
        if i is None:
            i = random.randrange(len(self.ports))
        return Client(self.ports[i % len(self.ports)], token, checked)

    def rows_snapshot(self):
        with self.rows_lock:
            return list(self.rows.values())

    def add_row(self, row):
        with self.rows_lock:
            self.rows[row.id] = row


def make_user(ctx, admin=False):
    c = ctx.client(ctx.admin_token)
    body = {"email": "walker-%s@walk.example" % uuid.uuid4().hex[:10]}
    if admin:
        body["is_admin"] = True
    r = c.post("/users", body)
    assert r.status == 201, r
    uid = r.json["user_id"]
    r = c.post("/users/%s/tokens" % uid)
    assert r.status == 201, r
    return uid, r.json["token"]


class WriteFailed(AssertionError):
    pass


def execute(ctx, spec, port_i=None):
    """Runs one write under the row's lock; records the row's new state.
    A 409 (unique slug / email) changes nothing.  Returns True if it wrote."""
    coll = ctx.coll
    row = spec.row
    if row is not None and not row.lock.acquire(blocking=False):
        return False
    if row is not None and spec.valid is not None and not spec.valid(row):
        row.lock.release()
        return False
    try:
        c = ctx.client(spec.token, port_i, checked=random.random() < WRITE_CHECK_SAMPLE)
        t0 = now()
        try:
            if spec.body is None:
                r = c.request(spec.method, spec.path)
            else:
                r = c.request(spec.method, spec.path, json_body=spec.body)
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            r, status = e, None
        ok = {"POST": (200, 201), "PATCH": (200,), "PUT": (200,), "DELETE": (204,)}[spec.method]
        with ctx.log_lock:
            ctx.log.append((t0, spec.method, spec.path, spec.body, status))
        if status == 409 and (coll.name in ("configs", "users")):
            return False
        if status in (None, 503):
            # the database did not answer in time (a loaded machine): the
            # write may or may not have been applied
            stat("uncertain_writes")
            if spec.create:
                ctx.uncertain_creates += 1
                return False
            state = reread(ctx, row, port_i)
            row.history.append((t0, now(), state, "%s %s %s (answered %s, state re-read)"
                                % (spec.method, spec.path, json.dumps(spec.body), status)))
            return True
        if status not in ok:
            raise WriteFailed("write %s %s %s -> %r" % (spec.method, spec.path, json.dumps(spec.body), r))
        if not spec.create:
            row.meta.update(spec.meta)
        if spec.create:
            item = r.json
            row = Row(item[coll.pk])
            row.lock.acquire()
            row.meta.update(spec.meta)
            state = coll.visible(ctx, item, row)
        elif spec.then_get:
            path, token = spec.then_get
            g_ = ctx.client(token, port_i).get(path)
            assert g_.status == 200, (path, g_)
            state = coll.visible(ctx, g_.json, row)
        elif spec.method == "DELETE":
            if coll.include_deleted:
                g_ = ctx.client(ctx.admin_token, port_i).get(spec.path, params={"include_deleted": "true"})
                assert g_.status == 200, (spec.path, g_)
                state = g_.json
                assert state["deleted_at"] is not None, state
            else:
                state = None
        else:
            state = coll.visible(ctx, r.json, row)
        t1 = now()
        row.history.append((t0, t1, state, "%s %s %s" % (spec.method, spec.path, json.dumps(spec.body))))
        if spec.create:
            ctx.add_row(row)
        stat("writes")
        return True
    finally:
        if row is not None and row.lock.locked():
            row.lock.release()


def reread(ctx, row, port_i):
    """The row's state as the walker sees it, read back (under its lock).
    Sets the workspace membership the model keeps."""
    coll = ctx.coll
    if coll.name == "workspaces":
        token, params = ctx.owner_token, None
    elif coll.name == "sessions":
        token, params = ctx.owner_token, None
    else:
        token, params = ctx.admin_token, ({"include_deleted": "true"} if coll.include_deleted else None)
    for attempt in range(20):
        g_ = ctx.client(token, port_i).get(coll.item_path(ctx, row.id), params=params)
        if g_.status != 503:
            break
        time.sleep(0.2)
    if g_.status == 404 and coll.name in ("workspaces", "sessions"):
        row.meta["member"] = False
        return None
    assert g_.status == 200, (coll.item_path(ctx, row.id), g_)
    if coll.name == "workspaces":
        row.meta["member"] = True
    return coll.visible(ctx, g_.json, row)


def pick_live(ctx, rng):
    rows = [r for r in ctx.rows_snapshot() if r.last_state() is not None and not ctx.coll.is_deleted(r.last_state())]
    if not rows:
        return None
    return rng.choice(rows)


def random_write(ctx, rng, seeding=False):
    coll = ctx.coll
    ops = [(4, "create"), (6, "patch")]
    if coll.deletes:
        ops.append((2, "delete"))
    ops += coll.extra_ops(ctx, rng)
    total = sum(w for w, _ in ops)
    x = rng.uniform(0, total)
    for w, op in ops:
        x -= w
        if x <= 0:
            break
    if callable(op):
        return op(ctx, rng)
    if op == "create":
        return create_spec(ctx, rng, seeding)
    row = pick_live(ctx, rng)
    if row is None:
        return None
    live = lambda r: r.last_state() is not None and not coll.is_deleted(r.last_state())  # noqa: E731
    if op == "patch":
        method, token, body = coll.patch(ctx, rng, row)
        return WriteSpec(method, coll.item_path(ctx, row.id), token, body, row=row, valid=live)
    return WriteSpec("DELETE", coll.item_path(ctx, row.id), rng.choice([ctx.owner_token, ctx.admin_token])
                     if coll.name != "sessions" else ctx.owner_token, row=row, valid=live)


def create_spec(ctx, rng, seeding):
    token, body = ctx.coll.create(ctx, rng, seeding)
    return WriteSpec("POST", ctx.coll.list_path(ctx), token, body, create=True,
                     meta={"member": token == getattr(ctx, "owner_token", None),
                           "admin_created": token == ctx.admin_token})


class Writers:
    def __init__(self, ctx, n, seed, pace_ms, port_of=None):
        self.ctx = ctx
        self.stop = threading.Event()
        self.errors = []
        self.threads = []
        for i in range(n):
            rng = random.Random(seed * 7919 + i)
            port_i = port_of(i) if port_of else None
            t = threading.Thread(target=self.run, args=(rng, pace_ms, port_i), daemon=True)
            self.threads.append(t)

    def run(self, rng, pace_ms, port_i):
        try:
            while not self.stop.is_set():
                spec = random_write(self.ctx, rng)
                if spec is not None:
                    execute(self.ctx, spec, port_i)
                if pace_ms:
                    time.sleep(rng.uniform(0, pace_ms) / 1000.0)
        except BaseException as e:  # reported by stop_and_join
            self.errors.append(e)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop_and_join(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)
            assert not t.is_alive(), "a writer did not stop"
        if self.errors:
            raise self.errors[0]


# ---- walks ------------------------------------------------------------------------


def resolve_sort(coll, spec):
    out, seen = [], set()
    for name, desc in spec:
        if name in seen:
            continue
        seen.add(name)
        out.append((name, desc))
    if not out:
        out = list(coll.default_sort)
    if "id" not in seen:
        out.append(("id", out[0][1]))
    return out


def sort_param(rng, spec):
    """The sort as a client might write it: case and whitespace vary,
    sometimes a field twice (the first wins)."""
    toks = []
    for name, desc in spec:
        n = name.upper() if maybe(rng, 0.15) else name
        toks.append(("-" if desc else ("+" if maybe(rng, 0.1) else "")) + n)
    if toks and maybe(rng, 0.15):
        toks.append(toks[0].lstrip("-+") if maybe(rng) else "-" + toks[0].lstrip("-+"))
    sep = ", " if maybe(rng, 0.2) else ","
    return sep.join(toks)


def compare(coll, sort, a, b):
    for name, desc in sort:
        get, _ = coll.sorts[name]
        x, y = get(a), get(b)
        if x == y:
            if name == "id":
                return 0
            continue
        if x is None:
            return 1  # NULLS LAST, both directions
        if y is None:
            return -1
        c = -1 if x < y else 1  # str: code point order == UTF-8 byte order
        return -c if desc else c
    return 0


class WalkPlan:
    def __init__(self, coll, filters, include_deleted, sort_spec, sort_text, sizes, totals, repeats, token):
        self.coll = coll
        self.filters = filters
        self.include_deleted = include_deleted
        self.sort = resolve_sort(coll, sort_spec)
        self.sort_text = sort_text  # None: not sent
        self.sizes = sizes
        self.totals = totals
        self.repeats = repeats
        self.token = token

    def query(self):
        pairs = []
        for f in self.filters:
            pairs += f.pairs
        if self.include_deleted:
            pairs.append(("include_deleted", "true"))
        if self.sort_text is not None:
            pairs.append(("sort", self.sort_text))
        return pairs

    def matches(self, item):
        if item is None:
            return False
        if self.coll.is_deleted(item) and not self.include_deleted:
            return False
        return all(f.pred(item) for f in self.filters)

    def describe(self):
        return "GET %s" % fm.qs(self.query())


class Walk:
    pass


def do_walk(ctx, plan, page_port=None, pause_ms=0, rng=None, count=True):
    """Follows next_cursor from a first page to the end; checks each page's
    envelope.  page_port(i) -> server index of page i."""
    coll = ctx.coll
    path = coll.list_path(ctx)
    w = Walk()
    w.rows, w.pages = [], []
    cursor = None
    i = 0
    while True:
        size = plan.sizes[i % len(plan.sizes)]
        params = []
        if cursor is None:
            params += plan.query()
        else:
            params.append(("cursor", cursor))
            if plan.repeats[i % len(plan.repeats)]:
                params += plan.query()
        params.append((coll.size_param, str(size)))
        total = coll.pages and plan.totals[i % len(plan.totals)]
        if total:
            params.append(("include_total", "true"))
        c = ctx.client(plan.token, page_port(i) if page_port else 0)
        t0 = now()
        r = c.get(path, params)
        t1 = now()
        assert r.status == 200, "walk page %d: GET %s%s -> %r" % (i + 1, path, fm.qs(params), r)
        body = r.json
        items = body[coll.items_key]
        if i == 0:
            w.first_send, w.first_recv, w.sync = t0, t1, body["sync_token"]
        assert isinstance(body.get("sync_token"), str) and body["sync_token"], body
        nxt = body["next_cursor"]
        assert len(items) <= size, (len(items), size)
        if nxt is not None:
            assert len(items) == size, "next_cursor on a page that is not full: %d of %d" % (len(items), size)
        if coll.pages:
            assert body["page"] == i + 1 and body["page_size"] == size, body
            assert body["has_previous"] == (i > 0), body
            assert body["has_next"] == (nxt is not None), "has_next %s with next_cursor %r" % (body["has_next"], nxt)
            assert ("total" in body) == bool(total), body
            if total:
                assert isinstance(body["total"], int) and body["total"] >= 0, body
                if i == 0:
                    assert body["total"] >= len(items), body
        w.pages.append(("GET %s%s" % (path, fm.qs(params)), [it[coll.pk] for it in items], t0, t1))
        w.rows += items
        if count:
            stat("pages")
        w.last_recv = t1
        i += 1
        if nxt is None:
            break
        assert i < 5000, "walk does not end"
        cursor = nxt
        if pause_ms and rng is not None:
            time.sleep(rng.uniform(0, pause_ms) / 1000.0)
    return w


def read_feed(ctx, token, since, limit, port_of=None):
    """Follows next_since while has_more; then checks that the feed's end is
    empty (nothing is written any more)."""
    coll = ctx.coll
    path = coll.changes_path(ctx)
    entries, pages = [], []
    i = 0
    while True:
        c = ctx.client(token, port_of(i) if port_of else 0)
        r = c.get(path, params=[("since", since), ("limit", str(limit))])
        assert r.status == 200, "GET %s?since=...&limit=%d -> %r" % (path, limit, r)
        body = r.json
        items = body[coll.items_key]
        assert len(items) <= limit, (len(items), limit)
        assert isinstance(body["has_more"], bool) and isinstance(body["next_since"], str), body
        pages.append([e.get(coll.pk) for e in items])
        entries += items
        since = body["next_since"]
        i += 1
        if not body["has_more"]:
            break
        assert items, "has_more with an empty page"
        assert i < 10000, "feed does not end"
    r = ctx.client(token, port_of(i) if port_of else 0).get(path, params=[("since", since)])
    assert r.status == 200, r
    assert r.json[coll.items_key] == [] and r.json["has_more"] is False, \
        "the feed's next_since after its end, with no writes since, is not empty: %r" % r
    stat("feed_items", len(entries))
    return entries, pages


def collect(ctx, token, query, sort_text, size=100):
    """A whole listing (a walk with no writes going on)."""
    plan = WalkPlan(ctx.coll, [], False, [], None, [size], [False], [False], token)
    plan.query = lambda: list(query) + ([("sort", sort_text)] if sort_text else [])
    return do_walk(ctx, plan, count=False).rows


# ---- the check ---------------------------------------------------------------------


def uncertain(h):
    """A write answered 503 (it may not have been applied)."""
    return h[3].endswith("state re-read)")


def fmt_ms(t, t0):
    return "%+.1fms" % ((t - t0) * 1000)


def report(ctx, plan, walk, feed_pages, msg, rid=None):
    lines = [msg, "collection %s, walker %s, query %s, resolved sort %s" % (
        ctx.coll.name, "admin" if plan.token == ctx.admin_token else "owner", plan.describe(), plan.sort)]
    t0 = walk.first_send
    lines.append("walk pages (times relative to the first page's request):")
    for (url, ids, ts, tr) in walk.pages[:60]:
        lines.append("  [%s..%s] %s -> %s" % (fmt_ms(ts, t0), fmt_ms(tr, t0), url[:200], ids))
    lines.append("feed pages: %s" % feed_pages[:40])
    if rid is not None:
        row = ctx.rows.get(rid)
        if row:
            lines.append("writes of %s:" % rid)
            for (ts, tr, s, what) in row.history:
                lines.append("  [%s..%s] %s\n      -> %s" % (fmt_ms(ts, t0), fmt_ms(tr, t0), what, json.dumps(s)))
        else:
            lines.append("%s was not written by this example" % rid)
    return "\n".join(lines)


def check(ctx, plan, walk, feed, feed_pages, final, dump):
    coll = ctx.coll
    pk = coll.pk
    sort = plan.sort

    def fail(msg, rid=None):
        raise AssertionError(report(ctx, plan, walk, feed_pages, msg, rid))

    # (1) once, in order, matching
    seen = {}
    for it in walk.rows:
        if it[pk] in seen:
            fail("(1) row %s appears twice in the walk" % it[pk], it[pk])
        seen[it[pk]] = it
    for a, b in zip(walk.rows, walk.rows[1:]):
        if compare(coll, sort, a, b) >= 0:
            fail("(1) walk out of order: %s then %s\n  %s\n  %s" % (a[pk], b[pk], json.dumps(a), json.dumps(b)), b[pk])
    for it in walk.rows:
        if not plan.matches(it):
            fail("(1) row %s in the walk does not match the filters: %s" % (it[pk], json.dumps(it)), it[pk])
    stat("rows_checked", len(walk.rows))

    t_start, t_first_recv, t_end = walk.first_send, walk.first_recv, walk.last_recv
    dump_by = {it[pk]: it for it in dump}
    all_ids = set(dump_by) | set(ctx.rows)

    # (2) untouched rows: exactly once, as they were
    during = set()
    # a create answered 503 may have made a row the model does not know: then
    # rows it did not make are not known to be unwritten
    known = lambda rid: rid in ctx.rows or not ctx.uncertain_creates  # noqa: E731
    for rid in all_ids:
        if not known(rid):
            continue
        row = ctx.rows.get(rid)
        if row is not None and row.writes_overlapping(t_start, t_end):
            during.add(rid)
            continue
        state = row.state_at(t_start) if row is not None else dump_by.get(rid)
        if plan.matches(state):
            if rid not in seen:
                fail("(2) row %s was not written during the walk and matched the filters, but the walk missed it: %s"
                     % (rid, json.dumps(state)), rid)
            if seen[rid] != state:
                fail("(2) row %s (not written during the walk) was returned with other values:\n  walk:  %s\n"
                     "  state: %s" % (rid, json.dumps(seen[rid]), json.dumps(state)), rid)
            stat("untouched_checked")
        elif rid in seen:
            fail("(2) row %s (not written during the walk, not matching) is in the walk: %s"
                 % (rid, json.dumps(seen[rid])), rid)
    stat("writes_during_walks", sum(len(ctx.rows[r].writes_overlapping(t_start, t_end)) for r in during))

    # (3) the feed: once each, current, complete, nothing old, in write order
    fseen = {}
    for e in feed:
        rid = e.get(pk)
        if rid in fseen:
            fail("(3) row %s appears twice in the feed" % rid, rid)
        fseen[rid] = e
        assert isinstance(e.get("deleted"), bool), e
        if e["deleted"]:
            if set(e) != {pk, "deleted"}:
                fail("(3) a tombstone has more than the primary key: %r" % (e,), rid)
            cur = dump_by.get(rid)
            if cur is not None and not coll.is_deleted(cur):
                fail("(3) the feed has a tombstone for %s, which is live: %s" % (rid, json.dumps(cur)), rid)
        else:
            item = dict(e)
            del item["deleted"]
            cur = dump_by.get(rid)
            if cur is None or coll.is_deleted(cur):
                fail("(3) the feed has %s as a live item, but it is %s" % (rid, "gone" if cur is None else "deleted"),
                     rid)
            if item != cur:
                fail("(3) the feed's item for %s is not its current state:\n  feed: %s\n  now:  %s"
                     % (rid, json.dumps(item), json.dumps(cur)), rid)
    for rid in all_ids:
        if not known(rid):
            continue
        row = ctx.rows.get(rid)
        hist = row.history if row else []
        after_first = [h for h in hist if h[0] > t_first_recv and not uncertain(h)]
        maybe_after = [h for h in hist if h[1] >= t_start]
        if after_first and rid not in fseen:
            # written after S; in the feed unless it is invisible to the walker now and was at S
            if row.last_state() is not None or row.state_at(t_start) is not None or \
                    any(h[2] is not None for h in after_first):
                fail("(3) row %s was written after the first page but is not in the feed" % rid, rid)
        if not maybe_after and rid in fseen:
            fail("(3) row %s was not written since the walk began but is in the feed: %r" % (rid, fseen[rid]), rid)
    order = {}
    for i, e in enumerate(feed):
        row = ctx.rows.get(e.get(pk))
        if row and row.history and not uncertain(row.history[-1]):
            order[e[pk]] = (i, row.history[-1])
    ordered = sorted(order.items(), key=lambda kv: kv[1][0])
    for a_i in range(len(ordered)):
        for b_i in range(a_i + 1, len(ordered)):
            (ra, (_, ha)), (rb, (_, hb)) = ordered[a_i], ordered[b_i]
            if hb[1] < ha[0]:
                fail("(3) feed out of write order: %s (last written %s..%s) before %s (last written %s..%s)"
                     % (ra, fmt_ms(ha[0], t_start), fmt_ms(ha[1], t_start), rb, fmt_ms(hb[0], t_start),
                        fmt_ms(hb[1], t_start)), rb)

    # (4) walk + feed = the final listing
    state = {it[pk]: it for it in walk.rows}
    tombs = set()
    for e in feed:
        if e["deleted"]:
            state.pop(e[pk], None)
            tombs.add(e[pk])
        else:
            item = dict(e)
            del item["deleted"]
            state[e[pk]] = item
    got = {rid: it for rid, it in state.items() if plan.matches(it)}
    want = {it[pk]: it for it in final if it[pk] not in tombs}
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        differ = sorted(r for r in set(got) & set(want) if got[r] != want[r])
        rid = (missing or extra or differ)[0]
        fail("(4) walk + feed != final listing: missing %s, extra %s, different %s\n  got:  %s\n  want: %s"
             % (missing, extra, differ, json.dumps(got.get(rid)), json.dumps(want.get(rid))), rid)

    # the final listing is the dump filtered by the model; the model tracked every write
    for a, b in zip(final, final[1:]):
        if compare(coll, sort, a, b) >= 0:
            fail("final listing out of order: %s then %s" % (a[pk], b[pk]), b[pk])
    model = [it[pk] for it in dump if plan.matches(it)]
    if sorted(model) != sorted(it[pk] for it in final):
        fail("the final listing (server's filters) is not the model's: server %s, model %s"
             % (sorted(it[pk] for it in final), sorted(model)))
    for rid, row in ctx.rows.items():
        if row.last_state() is not None and dump_by.get(rid) != row.last_state():
            fail("row %s: the last write's answer is not what the list shows now:\n  write: %s\n  list:  %s"
                 % (rid, json.dumps(row.last_state()), json.dumps(dump_by.get(rid))), rid)
        if row.last_state() is None and rid in dump_by:
            fail("row %s is listed but the model thinks it is gone/invisible" % rid, rid)


# ---- one example ----------------------------------------------------------------------


def run_example(coll, ports, admin_token, admin_id, seed, label="", note=print, min_writers=1):
    """One example, every choice drawn from random.Random(seed) (the test
    draws the seed).  note(text) records the choices.  Returns a short
    description."""
    try:
        return _run_example(coll, ports, admin_token, admin_id, seed, label, note, min_writers)
    except Exception as e:
        FAILURES.append("%s seed=%d: %s: %s" % (coll.name, seed, type(e).__name__, e))
        raise


def _run_example(coll, ports, admin_token, admin_id, seed, label, note, min_writers):
    t_begin = now()
    rng = random.Random(seed)
    ctx = Ctx(coll, ports, admin_token, rng)
    ctx.admin_id = admin_id
    if coll.name != "sessions":
        ctx.owner_id, ctx.owner_token = make_user(ctx)
    coll.setup(ctx, rng)

    # seed rows (some deleted, some patched to NULLs and ties)
    n_seed = rng.randint(0, 3) if maybe(rng, 0.1) else rng.randint(5, 40)
    for _ in range(n_seed):
        execute(ctx, create_spec(ctx, rng, True))
    for _ in range(n_seed // 3):
        spec = random_write(ctx, rng, seeding=True)
        if spec is not None:
            execute(ctx, spec)

    # the walk's query
    names = [n for n in coll.sorts]
    k = rng.choice([0, 1, 1, 2, 2, 3])
    if k == 0:
        sort_spec, sort_text = [], (None if maybe(rng, 0.7) else "")
    else:
        sort_spec = [(n, maybe(rng)) for n in rng.sample(names, k)]
        sort_text = sort_param(rng, sort_spec)
    filters = coll.filters(ctx, rng)
    filters = rng.sample(filters, min(len(filters), rng.choice([0, 1, 1, 1, 2, 2, 3])))
    include_deleted = coll.include_deleted and maybe(rng, 0.35)
    totals = [maybe(rng, 0.3) for _ in range(3)]
    repeats = [maybe(rng, 0.3) for _ in range(3)]
    token = coll.walker(ctx, rng)
    plan = WalkPlan(coll, filters, include_deleted, sort_spec, sort_text, [1], totals, repeats, token)
    # page sizes: about pages_hint pages over the rows that match now
    if coll.pages:
        def count():
            r = ctx.client(token, 0).get(coll.list_path(ctx), plan.query() + [("page_size", "1"),
                                                                             ("include_total", "1")])
            assert r.status == 200, r
            return r.json["total"]
        expect = count()
        if expect > 300 and coll.name == "users":
            # /users holds every example's users: keep long runs' walks short
            plan.filters = [f for f in plan.filters if f.name != "q"] + [f_search("q", ["email", "display_name"],
                                                                              ctx.marker)]
            expect = count()
    else:
        expect = sum(1 for r in ctx.rows_snapshot() if plan.matches(r.last_state()))
    hi = max(1, min(100, (expect + 2) // rng.choice([1, 3, 5, 8, 12, 20])))
    plan.sizes = [rng.randint(1, hi) for _ in range(rng.randint(1, 5))]

    # writers for the whole walk
    n_writers = max(min_writers, rng.randint(1, 3))
    pace = rng.choice([0, 2, 5, 15])
    nports = len(ports)
    writers = Writers(ctx, n_writers, rng.randrange(1 << 30), pace, port_of=lambda i: i % nports).start()
    try:
        time.sleep(rng.uniform(0, 0.02))
        walk = do_walk(ctx, plan, page_port=lambda i: i % nports, pause_ms=rng.choice([0, 3, 10, 25]), rng=rng)
    finally:
        writers.stop_and_join()

    feed_limit = rng.choice([1, 2, 3, 5, 10, 100, 1000])
    feed, feed_pages = read_feed(ctx, token, walk.sync, feed_limit, port_of=lambda i: (i + 1) % nports)
    final = collect(ctx, token, [p for p in plan.query() if p[0] != "sort"], plan.sort_text)
    dump = collect(ctx, token, [("include_deleted", "true")] if coll.include_deleted else [], "id")
    note("%s seed=%d: %d seeded, %d writers (pace %d ms), %s, page sizes %s, feed limit %d" % (
        coll.name, seed, n_seed, n_writers, pace, plan.describe(), plan.sizes, feed_limit))
    check(ctx, plan, walk, feed, feed_pages, final, dump)
    stat("walks")
    stat("seconds", now() - t_begin)
    return "%s %s: %d rows, %d pages, %d feed items" % (label, plan.describe(), len(walk.rows), len(walk.pages),
                                                       len(feed))
