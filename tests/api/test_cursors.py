"""Keyset cursors and change feeds: the envelope and the rules around them
(CONTRACT.md §3, §5, §8 "Cursors", "Change feeds", "Test sessions").  The
randomized walks under concurrent writes are in test_walks.py.
"""
import base64
import concurrent.futures
import datetime

import pytest

from fm import unique

BUILDING = "0190f5a4-0000-7000-8000-000000000001"


def walk(c, path, params=None, size_key="page_size", size=None, items_key="items"):
    """Follows next_cursor to the end; returns (pages, items)."""
    params = dict(params or {})
    if size:
        params[size_key] = size
    r = c.get(path, params=params)
    assert r.status == 200, r
    pages = [r.json]
    while r.json["next_cursor"]:
        q = {"cursor": r.json["next_cursor"]}
        if size:
            q[size_key] = size
        r = c.get(path, params=q)
        assert r.status == 200, r
        pages.append(r.json)
    return pages, [it for p in pages for it in p[items_key]]


def test_envelope_and_exactly_full_last_page(ws):
    for i in range(6):
        ws.doc(original_filename="f%d" % i)
    pages, items = walk(ws.c, ws.path("documents"), size=3)
    assert [len(p["items"]) for p in pages] == [3, 3]
    assert pages[-1]["next_cursor"] is None and pages[-1]["has_next"] is False  # exactly full: null
    assert [p["page"] for p in pages] == [1, 2]
    assert [p["has_previous"] for p in pages] == [False, True]
    assert all(isinstance(p["sync_token"], str) and p["sync_token"] for p in pages)
    assert len({it["document_id"] for it in items}) == 6
    # URL-safe, opaque
    for p in pages[:-1]:
        assert all(ch.isalnum() or ch in "-_" for ch in p["next_cursor"])


def test_cursor_with_page_is_422(ws):
    ws.doc()
    ws.doc()
    cur = ws.list("documents", {"page_size": 1})["next_cursor"]
    r = ws.c.get(ws.path("documents"), params={"cursor": cur, "page": 2})
    assert r.status == 422 and r.json["detail"][0]["loc"] == ["query", "cursor"]


def test_page_size_may_change_and_page_counts_the_walk(ws):
    for i in range(7):
        ws.doc(byte_size=i)
    r = ws.list("documents", {"page": 2, "page_size": 2, "sort": "byte_size"})  # from page=N, page N+1
    assert [d["byte_size"] for d in r["items"]] == [2, 3]
    r2 = ws.c.get(ws.path("documents"), params={"cursor": r["next_cursor"], "page_size": 4}).json
    assert r2["page"] == 3 and r2["page_size"] == 4 and r2["has_previous"] is True
    assert [d["byte_size"] for d in r2["items"]] == [4, 5, 6]
    assert r2["next_cursor"] is None


def test_include_total_with_a_cursor_is_the_count_now(ws):
    for i in range(4):
        ws.doc()
    r = ws.list("documents", {"page_size": 2, "include_total": True})
    assert r["total"] == 4
    ws.doc()
    r2 = ws.c.get(ws.path("documents"), params={"cursor": r["next_cursor"], "include_total": True}).json
    assert r2["total"] == 5  # now, not at the walk's start
    assert len(r2["items"]) == 2  # the new row is not part of this walk (the feed has it)


def test_filters_and_sort_travel_with_the_cursor(ws):
    for i in range(6):
        ws.doc(status="failed" if i % 2 else "queued", byte_size=i)
    q = {"status_in": "failed", "sort": "-byte_size", "page_size": 1}
    first = ws.list("documents", q)
    assert [d["byte_size"] for d in first["items"]] == [5]
    cur = first["next_cursor"]
    alone = ws.c.get(ws.path("documents"), params={"cursor": cur}).json
    repeated = ws.c.get(ws.path("documents"), params={"cursor": cur, "status_in": "failed", "sort": "-BYTE_SIZE"}).json
    assert [d["byte_size"] for d in alone["items"]] == [d["byte_size"] for d in repeated["items"]]
    assert [d["byte_size"] for d in alone["items"]][:1] == [3]
    for other in ({"status_in": "queued"}, {"sort": "byte_size"}, {"status_in": "failed,queued"},
                  {"include_deleted": "true"}, {"q": "file"}):
        r = ws.c.get(ws.path("documents"), params=dict(other, cursor=cur))
        assert r.status == 422, (other, r)
        assert r.json["detail"][0]["loc"] == ["query", "cursor"]


def tamper(tok):
    raw = bytearray(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)))
    raw[len(raw) // 2] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_bad_cursors_are_422_never_5xx(api, ws):
    ws.doc()
    ws.doc()
    cur = ws.list("documents", {"page_size": 1})["next_cursor"]
    other_ws = api.workspace(owner=ws.owner)
    other_ws.doc()
    for bad in ("x", "!!!", cur[:-3], cur + "A", tamper(cur), "A" * 5000, cur[::-1]):
        r = ws.c.get(ws.path("documents"), params={"cursor": bad})
        assert r.status == 422, (bad[:40], r)
        assert r.json["detail"][0]["loc"] == ["query", "cursor"]
    # another collection, workspace, user; a sync token is no cursor
    assert ws.c.get(ws.path("jobs"), params={"cursor": cur}).status == 422
    assert ws.c.get(other_ws.path("documents"), params={"cursor": cur}).status == 422
    member = api.user()
    ws.c.post("/workspaces/%s/members" % ws.id, {"user_id": member.id})
    assert member.c.get(ws.path("documents"), params={"cursor": cur}).status == 422
    sync = ws.list("documents")["sync_token"]
    assert ws.c.get(ws.path("documents"), params={"cursor": sync}).status == 422
    assert ws.c.get(ws.path("documents") + "/changes", params={"since": cur}).status == 422


def test_nullable_sort_walks_nulls_last_both_ways(ws):
    stamps = ["2025-01-0%dT00:00:00Z" % d for d in (3, 1, 2)]
    for s in stamps:
        ws.doc(last_run_at=s)
    for _ in range(3):
        ws.doc()
    for sort in ("last_run_at", "-last_run_at"):
        _, items = walk(ws.c, ws.path("documents"), {"sort": sort}, size=1)
        runs = [d["last_run_at"] for d in items]
        assert runs[3:] == [None] * 3, (sort, runs)
        assert runs[:3] == sorted(runs[:3], reverse=sort.startswith("-"))
        nulls = [d["document_id"] for d in items[3:]]
        assert nulls == sorted(nulls, reverse=sort.startswith("-"))  # tie-breaker in the first field's direction


def test_users_email_walk_uses_the_hidden_lower_case_key(api, admin):
    tag = unique("ec").lower()
    for e in ("B", "a", "C", "d"):
        api.user(email="%s-%s@example.com" % (e, tag))
    _, items = walk(admin, "/users", {"q": tag, "sort": "email"}, size=1)
    assert [u["email"][0] for u in items] == ["a", "B", "C", "d"]


def test_change_feed(ws):
    a = ws.doc(original_filename="a")
    b = ws.doc(original_filename="b")
    sync = ws.list("documents")["sync_token"]
    feed = ws.c.get(ws.path("documents") + "/changes", params={"since": sync})
    assert feed.status == 200 and feed.json == {"items": [], "next_since": feed.json["next_since"], "has_more": False}
    ws.c.patch(ws.path("documents", a["document_id"]), {"byte_size": 5})
    ws.c.patch(ws.path("documents", a["document_id"]), {"byte_size": 6})
    c = ws.doc(original_filename="c")
    ws.c.delete(ws.path("documents", b["document_id"]))
    r = ws.c.get(ws.path("documents") + "/changes", params={"since": sync}).json
    # once each, at its latest write, in the order of writes; a tombstone for the delete
    assert [(i["document_id"], i["deleted"]) for i in r["items"]] == [
        (a["document_id"], False), (c["document_id"], False), (b["document_id"], True)]
    assert r["items"][0]["byte_size"] == 6
    assert r["items"][2] == {"document_id": b["document_id"], "deleted": True}
    assert r["has_more"] is False
    # paged by limit, with next_since
    p1 = ws.c.get(ws.path("documents") + "/changes", params={"since": sync, "limit": 2}).json
    assert len(p1["items"]) == 2 and p1["has_more"] is True
    p2 = ws.c.get(ws.path("documents") + "/changes", params={"since": p1["next_since"], "limit": 2}).json
    assert [i["document_id"] for i in p1["items"] + p2["items"]] == [i["document_id"] for i in r["items"]]
    assert p2["has_more"] is False
    # and nothing more after the end
    p3 = ws.c.get(ws.path("documents") + "/changes", params={"since": p2["next_since"]}).json
    assert p3["items"] == [] and p3["has_more"] is False


def test_change_feed_params(ws):
    sync = ws.list("documents")["sync_token"]
    path = ws.path("documents") + "/changes"
    for params, loc in (({}, "since"), ({"since": ""}, "since"), ({"since": "bad"}, "since"),
                        ({"since": sync, "limit": 0}, "limit"), ({"since": sync, "limit": 1001}, "limit"),
                        ({"since": sync, "limit": "x"}, "limit"), ({"since": sync, "sort": "id"}, "sort")):
        r = ws.c.get(path, params=params)
        assert r.status == 422, (params, r)
        assert r.json["detail"][0]["loc"] == ["query", loc], (params, r.json)
    assert ws.c.get(path, params={"since": sync, "limit": 1000}).status == 200


def test_every_collection_has_a_feed_under_its_scope(api, ws, admin):
    paths = [("/users", admin, "items"), ("/workspaces", ws.c, "items"), (ws.path("jobs"), ws.c, "items"),
             (ws.path("configs"), ws.c, "items"), ("/v1/tests/sessions", ws.c, "data")]
    for path, c, key in paths:
        page = c.get(path, params={"limit": 1} if key == "data" else None).json
        r = c.get(path + "/changes", params={"since": page["sync_token"]})
        assert r.status == 200 and key in r.json, (path, r)
    # a stranger sees no feed of the workspace; a user's token is no admin's
    stranger = api.user()
    assert stranger.c.get(ws.path("documents") + "/changes",
                          params={"since": ws.list("documents")["sync_token"]}).status in (404, 422)
    assert stranger.c.get("/users/changes", params={"since": "x"}).status == 403


def test_workspaces_feed_reports_a_workspace_one_was_added_to(api, ws):
    newcomer = api.user()
    sync = newcomer.c.get("/workspaces").json["sync_token"]
    ws.c.post("/workspaces/%s/members" % ws.id, {"user_id": newcomer.id})
    r = newcomer.c.get("/workspaces/changes", params={"since": sync}).json
    assert [w["workspace_id"] for w in r["items"]] == [ws.id]


# ---- FireMode v1: GET /v1/tests/sessions -------------------------------------

def test_v1_fifty_concurrent_creates_pages_of_ten_all_fifty_once(api, user):
    """The seed's own integration test."""
    def create(i):
        return user.c.post("/v1/tests/sessions", {"building_id": BUILDING, "notes": "n%d" % i})

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        made = [r.json["id"] for r in pool.map(create, range(50))]
    pages, items = walk(user.c, "/v1/tests/sessions", size_key="limit", size=10, items_key="data")
    assert len(pages) == 5 and all(len(p["data"]) == 10 for p in pages)
    assert pages[-1]["next_cursor"] is None
    ids = [s["id"] for s in items]
    assert len(ids) == 50 and set(ids) == set(made)
    for p in pages:
        assert set(p) == {"data", "next_cursor", "sync_token"}


def test_v1_grammar(api, user):
    other = api.user()
    api.session(other.c)  # each caller sees only its own
    s1 = api.session(user.c, status="completed", technician_id="t-1")
    s2 = api.session(user.c, status="failed", technician_id="t-2")
    s3 = api.session(user.c)  # scheduled
    ids = lambda params: [s["id"] for s in user.c.list("/v1/tests/sessions", params)["data"]]
    assert ids({}) == [s1["id"], s2["id"], s3["id"]]  # default sort created_at
    assert ids({"sort": "-created_at"}) == [s3["id"], s2["id"], s1["id"]]
    assert set(ids([("status", "completed"), ("status", "failed")])) == {s1["id"], s2["id"]}
    assert set(ids({"status": "completed,scheduled"})) == {s1["id"], s3["id"]}
    assert ids({"technician_id": "t-2"}) == [s2["id"]]
    today = s1["created_at"][:10]
    assert len(ids({"date_from": today, "date_to": today})) == 3  # date-only date_to: the end of that day
    assert ids({"date_to": s1["created_at"]}) == [s1["id"]]  # inclusive
    assert ids({"date_from": s3["created_at"]}) == [s3["id"]]
    day_before = (datetime.date.fromisoformat(today) - datetime.timedelta(days=1)).isoformat()
    assert ids({"date_to": day_before}) == []
    for bad in ({"limit": 0}, {"limit": 101}, {"page": 1}, {"page_size": 5}, {"status": "bogus"},
                {"sort": "building_id"}, {"include_total": "true"}, {"foo": "1"}, {"technician_id_is_null": "true"},
                {"date_from": "yesterday"}):
        r = user.c.get("/v1/tests/sessions", params=bad)
        assert r.status == 422, (bad, r)
    assert user.c.list("/v1/tests/sessions", {"limit": 100})["next_cursor"] is None
    r = user.c.list("/v1/tests/sessions", {"limit": 2})
    assert len(r["data"]) == 2 and r["next_cursor"]
    # another caller cannot use the cursor
    assert other.c.get("/v1/tests/sessions", params={"cursor": r["next_cursor"]}).status == 422


def test_v1_feed_uses_data(api, user):
    sync = user.c.list("/v1/tests/sessions", {"limit": 1})["sync_token"]
    s = api.session(user.c)
    user.c.delete("/v1/tests/sessions/%s" % s["id"])
    r = user.c.get("/v1/tests/sessions/changes", params={"since": sync}).json
    assert set(r) == {"data", "next_since", "has_more"}
    assert r["data"] == [{"id": s["id"], "deleted": True}]


def test_link_header_names_the_next_page(ws):
    ws.doc()
    ws.doc()
    r = ws.c.get(ws.path("documents"), params={"page_size": 1})
    assert r.header("Link") == '<%s?cursor=%s>; rel="next"' % (ws.path("documents"), r.json["next_cursor"])
    nxt = ws.c.get(r.header("Link")[1:].split(">")[0])
    assert nxt.status == 200 and nxt.json["next_cursor"] is None and nxt.header("Link") is None
    # a write answer keeps all of its headers
    p = ws.c.post(ws.path("documents"), {"original_filename": "h", "byte_size": 1},
                  headers={"X-Request-Id": "keep-me-1"})
    assert p.header("Location") and p.header("ETag") and p.header("X-Request-Id") == "keep-me-1"
    assert len(p.header_all("ETag")) == 1 and len(p.header_all("Content-Type")) == 1


def test_a_walk_whose_filters_are_too_long_for_its_cursor(ws):
    """Past 1 KiB of filters the cursor carries their hash: the walk goes on
    when the client repeats them, and only then."""
    tags = ["t%02d-%s" % (i, "x" * 40) for i in range(60)]
    for i in range(3):
        ws.doc(tags=[tags[i]])
    params = {"tag_in": ",".join(tags), "page_size": 1}
    first = ws.list("documents", params)
    cur = first["next_cursor"]
    assert cur and len(cur) < 2000
    r = ws.c.get(ws.path("documents"), params={"cursor": cur})
    assert r.status == 422 and "too long" in r.json["detail"][0]["msg"]
    _, items = [first], list(first["items"])
    while cur:
        page = ws.c.get(ws.path("documents"), params={"cursor": cur, "tag_in": ",".join(tags)}).json
        items += page["items"]
        cur = page["next_cursor"]
    assert len({d["document_id"] for d in items}) == 3
    assert ws.c.get(ws.path("documents"), params={"cursor": first["next_cursor"],
                                                  "tag_in": ",".join(tags[:-1])}).status == 422
