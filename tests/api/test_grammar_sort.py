"""CONTRACT §2, §3, §4 — sorting on every collection: each allowed field in
both directions, CSV of up to 3 fields, case- and whitespace-insensitive,
first mention wins, the primary key as tie-breaker in the first field's
direction (unless id is named), NULLS LAST both ways, byte-order text,
enums by their text, unknown fields → 422 "Unsupported sort field 'x'.
Allowed: …"."""
import functools
import itertools

import pytest

from fm import PK, SORTS, unique

# ---- the expected order, computed here ----------------------------------------


def sort_value(kind, item, field):
    if field == "id":
        return item[PK[kind]]
    v = item[field]
    if kind == "users" and field == "email":
        v = "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in v)
    return v


def parse_sort(spec):
    keys, seen = [], set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        desc = part.startswith("-")
        name = part[1:].strip().lower() if desc else part.lower()
        if name in seen:
            continue
        seen.add(name)
        keys.append((name, desc))
    return keys


def expected_order(kind, items, spec):
    keys = parse_sort(spec) or [("created_at", True)]
    if "id" not in [k for k, _ in keys]:
        keys.append(("id", keys[0][1]))

    def cmp(a, b):
        for f, desc in keys:
            x, y = sort_value(kind, a, f), sort_value(kind, b, f)
            if x is None and y is None:
                continue
            if x is None:
                return 1  # NULLS LAST, both directions
            if y is None:
                return -1
            if isinstance(x, str):
                x, y = x.encode("utf-8"), y.encode("utf-8")
            if x == y:
                continue
            r = -1 if x < y else 1
            return -r if desc else r
        return 0

    return [it[PK[kind]] for it in sorted(items, key=functools.cmp_to_key(cmp))]


# ---- data -----------------------------------------------------------------------------

T = "2024-05-01T00:00:00Z"


class Data:
    def __init__(self, kind, client, path, items, base_params=None):
        self.kind = kind
        self.c = client
        self.path = path
        self.items = items
        self.base = base_params or {}

    def ids(self, sort=None, extra=None):
        params = dict(self.base)
        params["page_size"] = 100
        if sort is not None:
            params["sort"] = sort
        params.update(extra or {})
        r = self.c.get(self.path, params=params)
        assert r.status == 200, (sort, r)
        return [it[PK[self.kind]] for it in r.json["items"]]

    def expected(self, sort):
        return expected_order(self.kind, self.items, sort)


def build_documents(api):
    ws = api.workspace()
    rows = [
        ("b", 10, None, "queued", T),
        ("B", 5, "2024-06-01T00:00:00Z", "failed", T),
        ("\u00e9", 10, "2024-06-02T00:00:00Z", "processed", T),
        ("a", 5, None, "queued", T),
        ("Z", 7, "2024-06-01T00:00:00Z", "uploaded", "2024-04-01T00:00:00Z"),
        ("_x", 10, None, "processing", "2024-06-01T00:00:00Z"),
        ("a b", 0, "2024-05-01", "failed", "2024-03-01T00:00:00.5Z"),
        ("a", 5, None, "queued", "2024-05-01T00:00:00.000001Z"),
        ("\u00e9a", 3, "2024-06-02T00:00:00Z", "uploaded", T),
        ("A", 3, "2024-06-01T00:00:00Z", "failed", T),
    ]
    items = []
    for fn, size, last, status, created in rows:
        items.append(ws.doc(client=api.admin, original_filename=fn, byte_size=size, last_run_at=last, status=status,
                            created_at=created))
    return Data("documents", ws.c, ws.path("documents"), items)


def build_jobs(api):
    ws = api.workspace()
    cfg = ws.config()["config_id"]
    rows = [
        ("queued", T, "2024-05-02T00:00:00Z", None, None),
        ("running", T, "2024-05-02T00:00:00Z", "2024-05-03T00:00:00Z", None),
        ("succeeded", T, "2024-05-01T00:00:00Z", "2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z"),
        ("failed", "2024-04-01T00:00:00Z", "2024-05-02T00:00:00Z", "2024-05-02T12:00:00Z", "2024-05-04T00:00:00Z"),
        ("cancelled", "2024-06-01T00:00:00Z", "2024-05-05T00:00:00Z", None, "2024-05-06T00:00:00Z"),
        ("queued", T, "2024-05-01T00:00:00Z", None, None),
        ("running", "2024-04-01T00:00:00Z", "2024-05-02T00:00:00Z", "2024-05-03T00:00:00Z", None),
    ]
    items = []
    for status, created, queued, started, completed in rows:
        items.append(ws.job(client=api.admin, config_id=cfg, status=status, created_at=created, queued_at=queued,
                            started_at=started, completed_at=completed))
    return Data("jobs", ws.c, ws.path("jobs"), items)


def build_configs(api):
    ws = api.workspace()
    rows = [("b", "b", T), ("a", "B", T), ("c", "\u00e9", T), ("d", "a", T), ("e1", "a", "2024-04-01T00:00:00Z"),
            ("0", "Z", "2024-06-01T00:00:00Z"), ("a-b", "_", T), ("ab", "A", "2024-04-01T00:00:00Z")]
    items = [ws.config(client=api.admin, slug=s, title=t, created_at=c) for s, t, c in rows]
    # touch two so that updated_at differs from creation order
    for it in (items[0], items[5]):
        r = ws.c.patch(ws.path("configs", it["config_id"]), {"title": it["title"]})
        assert r.status == 200
        it.update(r.json)
    return Data("configs", ws.c, ws.path("configs"), items)


def build_users(api):
    m = unique("srt")
    rows = [("a", "b", None, T), ("B", "B", "2024-06-01T00:00:00Z", T), ("c", None, "2024-06-02T00:00:00Z", T),
            ("D", "\u00e9", None, "2024-04-01T00:00:00Z"), ("e", None, None, T),
            ("F", "a", "2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z"), ("g", "_", "2024-05-01T00:00:00Z", T)]
    items = []
    for local, dn, last, created in rows:
        body = {"email": "%s%s@example.com" % (local, m), "display_name": dn, "last_login_at": last,
                "created_at": created}
        r = api.admin.post("/users", body)
        assert r.status == 201, r
        items.append(r.json)
    r = api.admin.patch("/users/%s" % items[2]["user_id"], {"display_name": None})
    items[2] = r.json
    return Data("users", api.admin, "/users", items, {"q": m})


def build_workspaces(api):
    m = unique("srt")
    rows = [("b", T), ("B", T), ("\u00e9", T), ("a", "2024-04-01T00:00:00Z"), ("Z", T), ("_", "2024-06-01T00:00:00Z"),
            ("b", "2024-04-01T00:00:00Z")]
    items = []
    for name, created in rows:
        r = api.admin.post("/workspaces", {"name": name + " " + m, "created_at": created})
        assert r.status == 201, r
        items.append(r.json)
    return Data("workspaces", api.admin, "/workspaces", items, {"q": m})


BUILDERS = {"documents": build_documents, "jobs": build_jobs, "configs": build_configs, "users": build_users,
            "workspaces": build_workspaces}


@pytest.fixture(scope="module")
def datasets(api):
    return {}


@pytest.fixture
def data_of(api, datasets):
    def get(kind):
        if kind not in datasets:
            datasets[kind] = BUILDERS[kind](api)
        return datasets[kind]
    return get


# ---- tests --------------------------------------------------------------------------------

SINGLE = [(k, f, d) for k in SORTS for f in SORTS[k] for d in ("", "-")]


@pytest.mark.parametrize("kind,field,d", SINGLE, ids=["%s:%s%s" % (k, d, f) for k, f, d in SINGLE])
def test_single_field(data_of, kind, field, d):
    data = data_of(kind)
    spec = d + field
    assert data.ids(spec) == data.expected(spec), spec


MULTI = {
    "documents": ["status,-byte_size", "-status,created_at,id", "byte_size,-created_at", "-last_run_at,original_filename",
                  "last_run_at,-byte_size", "byte_size,id", "-byte_size,id", "-created_at,id", "created_at,-id",
                  "original_filename,status,-id", "status,last_run_at"],
    "jobs": ["status,-queued_at", "-started_at,completed_at", "completed_at,-started_at,id", "queued_at",
             "-created_at,id", "-status,-started_at"],
    "configs": ["title,-slug", "-title,created_at", "title,id", "-updated_at,title"],
    "users": ["display_name,-email", "-last_login_at,display_name", "-display_name,id", "created_at,-email"],
    "workspaces": ["name,-created_at", "-name,id", "created_at,name"],
}
MULTI_CASES = [(k, s) for k in MULTI for s in MULTI[k]]


@pytest.mark.parametrize("kind,spec", MULTI_CASES, ids=["%s:%s" % c for c in MULTI_CASES])
def test_multi_field(data_of, kind, spec):
    data = data_of(kind)
    assert data.ids(spec) == data.expected(spec), spec


@pytest.mark.parametrize("kind", list(SORTS))
def test_default_sort_is_minus_created_at(data_of, kind):
    data = data_of(kind)
    assert data.ids() == data.expected("-created_at")
    assert data.ids("") == data.expected("-created_at")


def test_tie_breaker_follows_first_direction(data_of):
    data = data_of("documents")
    tied = sorted(it["document_id"] for it in data.items if it["created_at"] == "2024-05-01T00:00:00.000000Z")
    assert len(tied) >= 4
    asc = [i for i in data.ids("created_at") if i in tied]
    desc = [i for i in data.ids("-created_at") if i in tied]
    assert asc == tied and desc == tied[::-1]
    # the first field's direction, not the last one's
    both = [i for i in data.ids("-created_at,byte_size")
            if i in {it["document_id"] for it in data.items
                     if it["created_at"] == "2024-05-01T00:00:00.000000Z" and it["byte_size"] == 5}]
    assert both == sorted(both, reverse=True) and len(both) == 2
    # id named: no extra tie-breaker in the first direction
    named = [i for i in data.ids("-created_at,id") if i in tied]
    assert named == tied


def test_nulls_last_both_directions(data_of):
    data = data_of("documents")
    nulls = {it["document_id"] for it in data.items if it["last_run_at"] is None}
    for spec in ("last_run_at", "-last_run_at"):
        ids = data.ids(spec)
        assert set(ids[-len(nulls):]) == nulls, spec
        assert not (set(ids[:-len(nulls)]) & nulls)


def test_byte_order_text(data_of):
    data = data_of("documents")
    names = [next(it["original_filename"] for it in data.items if it["document_id"] == i)
             for i in data.ids("original_filename")]
    assert names == ["A", "B", "Z", "_x", "a", "a", "a b", "b", "\u00e9", "\u00e9a"]


def test_enum_sorts_by_text(data_of):
    data = data_of("documents")
    statuses = [next(it["status"] for it in data.items if it["document_id"] == i) for i in data.ids("status")]
    assert statuses == sorted(statuses)
    assert statuses[0] == "failed" and statuses[-1] == "uploaded"


def test_users_email_sorts_canonical_lower_case(data_of):
    data = data_of("users")
    emails = [next(it["email"] for it in data.items if it["user_id"] == i) for i in data.ids("email")]
    assert [e[0] for e in emails] == ["a", "B", "c", "D", "e", "F", "g"]


@pytest.mark.parametrize("spec,same_as", [
    ("-BYTE_SIZE", "-byte_size"), ("Byte_Size", "byte_size"), (" -byte_size , status ", "-byte_size,status"),
    ("\t-created_at,\tID ", "-created_at,id"), ("byte_size,-byte_size", "byte_size"),
    ("-byte_size,byte_size,-byte_size", "-byte_size"), ("status,-created_at,status,id", "status,-created_at,id"),
    ("byte_size,,status", "byte_size,status"), ("-status,", "-status"), (",byte_size", "byte_size"),
    ("Status,STATUS,-Status", "status"),
])
def test_sort_spelling(data_of, spec, same_as):
    data = data_of("documents")
    r = data.c.get(data.path, params={"sort": spec, "page_size": 100})
    assert r.status == 200, (spec, r)
    assert [it["document_id"] for it in r.json["items"]] == data.expected(same_as)


@pytest.mark.parametrize("spec", ["id,created_at,byte_size,status", "-status,byte_size,last_run_at,id",
                                  "status,byte_size,created_at,status,id"])
def test_more_than_three_fields_is_422(data_of, spec):
    data = data_of("documents")
    r = data.c.get(data.path, params={"sort": spec})
    assert r.status == 422, (spec, r)
    assert r.json["detail"]


def test_three_distinct_with_repeats_is_fine(data_of):
    data = data_of("documents")
    assert data.ids("-created_at,created_at,id,byte_size,id") == data.expected("-created_at,id,byte_size")


UNKNOWN = [(k, bad) for k in SORTS for bad in ("bogus", "-bogus", "deleted_at", "tags", "workspace_id")
           if bad not in SORTS[k]]
UNKNOWN += [("users", "is_active"), ("users", "email_canonical"), ("configs", "deleted_at"), ("jobs", "config_id"),
            ("documents", "source"), ("documents", "uploaded_by_user_id"), ("workspaces", "created_by_user_id"),
            ("documents", "document_id"), ("documents", "vector_clock")]


@pytest.mark.parametrize("kind,bad", UNKNOWN, ids=["%s:%s" % c for c in UNKNOWN])
def test_unknown_sort_field_message(data_of, kind, bad):
    data = data_of(kind)
    r = data.c.get(data.path, params=dict(data.base, sort="id," + bad))
    assert r.status == 422, r
    detail = r.json["detail"]
    assert isinstance(detail, str), detail
    name = bad.lstrip("-")
    prefix = "Unsupported sort field '%s'. Allowed: " % name
    assert detail.startswith(prefix), detail
    listed = detail[len(prefix):].split(", ")
    assert sorted(listed) == sorted(SORTS[kind]), detail


def test_paged_walk_equals_full_sort(data_of):
    data = data_of("documents")
    for spec in ("byte_size", "-last_run_at", "status,-created_at", "original_filename"):
        walked = []
        for page in itertools.count(1):
            r = data.c.get(data.path, params={"sort": spec, "page_size": 3, "page": page})
            walked += [it["document_id"] for it in r.json["items"]]
            if not r.json["has_next"]:
                break
        assert walked == data.expected(spec), spec


def test_sort_with_filters(data_of):
    data = data_of("documents")
    r = data.ids("-byte_size", {"status_in": "queued,failed"})
    exp = [i for i in data.expected("-byte_size")
           if next(it["status"] for it in data.items if it["document_id"] == i) in ("queued", "failed")]
    assert r == exp


@pytest.mark.parametrize("kind,spec", MULTI_CASES + [(k, d + f) for k, f, d in SINGLE],
                         ids=["%s:%s" % c for c in MULTI_CASES] + ["%s:%s%s" % (k, d, f) for k, f, d in SINGLE])
def test_order_is_the_same_with_include_total(data_of, kind, spec):
    """include_total runs the count and the page as one statement: the page
    order must not change, for every sort field (rendered or not)."""
    data = data_of(kind)
    assert data.ids(spec, extra={"include_total": "true"}) == data.expected(spec), spec
    # a small page with a total, past the first
    r = data.c.get(data.path, params=dict(data.base, sort=spec, page_size=2, page=2, include_total="true"))
    assert r.status == 200, r
    assert [it[PK[kind]] for it in r.json["items"]] == data.expected(spec)[2:4], spec
    assert r.json["total"] == len(data.items)
