"""CONTRACT §3 — page / page_size / include_total, has_previous / has_next
(look-ahead without a total, COUNT with one), pages past the end."""
import pytest

from fm import assert_422

KINDS_PATHS = ["users", "workspaces", "documents", "jobs", "configs"]


@pytest.fixture(scope="module")
def five(api):
    """A workspace with 5 documents, created_at t0 < … < t4 (admin-set)."""
    ws = api.workspace()
    docs = []
    for i in range(5):
        docs.append(ws.doc(client=api.admin, created_at="2024-01-0%dT00:00:00Z" % (i + 1), byte_size=i,
                           status="failed" if i % 2 else "queued"))
    return ws, [d["document_id"] for d in docs]


def coll_path(api, kind):
    if kind == "users":
        return api.admin, "/users"
    if kind == "workspaces":
        return api.user().c, "/workspaces"
    ws = api.workspace()
    return ws.c, ws.path(kind)


@pytest.mark.parametrize("kind", KINDS_PATHS)
@pytest.mark.parametrize("param,value", [("page", "0"), ("page", "-1"), ("page", "abc"), ("page", "1.5"),
                                         ("page", "1e2"), ("page_size", "0"), ("page_size", "101"),
                                         ("page_size", "-5"), ("page_size", "ten"), ("page_size", "2.5"),
                                         ("page_size", "1000000000000000000000"), ("page", " 1")])
def test_bounds(api, kind, param, value):
    c, p = coll_path(api, kind)
    assert_422(c.get(p, params={param: value}), "query", param)


@pytest.mark.parametrize("size", ["1", "100", "25", "5", "6"])
def test_page_size_accepted(five, size):
    ws, ids = five
    r = ws.list("documents", {"page_size": size})
    assert r["page_size"] == int(size)
    assert len(r["items"]) == min(5, int(size))


def test_defaults(five):
    ws, ids = five
    r = ws.list("documents")
    assert r["page"] == 1 and r["page_size"] == 25 and r["has_previous"] is False and r["has_next"] is False
    assert [d["document_id"] for d in r["items"]] == ids[::-1]  # -created_at
    assert "total" not in r


def test_walk_pages(five):
    ws, ids = five
    want = ids[::-1]
    seen = []
    expect = [(1, False, True), (2, True, True), (3, True, False)]
    for page, has_prev, has_next in expect:
        r = ws.list("documents", {"page": page, "page_size": 2})
        assert r["page"] == page and r["page_size"] == 2
        assert r["has_previous"] is has_prev and r["has_next"] is has_next, (page, r)
        seen += [d["document_id"] for d in r["items"]]
    assert seen == want


def test_page_past_the_end(five):
    ws, ids = five
    for page in (4, 100, 10 ** 6, 10 ** 7, 2 ** 31, 2 ** 40):
        r = ws.list("documents", {"page": page, "page_size": 2})
        assert r["items"] == [] and r["has_next"] is False and r["has_previous"] is True and r["page"] == page
    r = ws.list("documents", {"page": 6, "page_size": 1, "include_total": "true"})
    assert r["items"] == [] and r["has_next"] is False and r["total"] == 5


@pytest.mark.parametrize("page", ["9223372036854775807", "92233720368547759", "9223372036854775808",
                                  "18446744073709551617"])
def test_enormous_pages_never_500(five, page):
    ws, ids = five
    r = ws.c.get(ws.path("documents"), params={"page": page, "page_size": 100})
    assert r.status in (200, 422), r
    if r.status == 200:
        assert r.json["items"] == [] and r.json["has_next"] is False
    else:
        assert_422(r, "query", "page")


def test_has_next_look_ahead_is_exact(five):
    ws, ids = five
    assert ws.list("documents", {"page_size": 5})["has_next"] is False
    assert ws.list("documents", {"page_size": 4})["has_next"] is True
    assert ws.list("documents", {"page_size": 4, "page": 2})["has_next"] is False
    assert ws.list("documents", {"page_size": 1, "page": 5})["has_next"] is False
    assert ws.list("documents", {"page_size": 1, "page": 4})["has_next"] is True


def test_include_total(five):
    ws, ids = five
    for size, page, has_next in ((2, 1, True), (2, 3, False), (5, 1, False), (4, 1, True), (4, 2, False)):
        r = ws.list("documents", {"page_size": size, "page": page, "include_total": "true"})
        assert r["total"] == 5 and r["has_next"] is has_next, (size, page, r)


def test_total_counts_the_filtered_set(five):
    ws, ids = five
    r = ws.list("documents", {"status_in": "failed", "include_total": "yes", "page_size": 1})
    assert r["total"] == 2 and r["has_next"] is True and len(r["items"]) == 1
    r = ws.list("documents", {"status_in": "failed", "include_total": "yes", "page_size": 1, "page": 2})
    assert r["total"] == 2 and r["has_next"] is False
    r = ws.list("documents", {"status_in": "processed", "include_total": "on"})
    assert r["total"] == 0 and r["items"] == [] and r["has_next"] is False


def test_empty_collection(api):
    ws = api.workspace()
    r = ws.list("documents", {"include_total": "true"})
    assert r["items"] == [] and r["total"] == 0 and r["has_next"] is False and r["has_previous"] is False


@pytest.mark.parametrize("include_total", [False, True])
def test_page_up_to_2_53_minus_1_past_the_end_is_empty(five, include_total):
    """page accepts any integer up to 2^53-1 (JSON-safe); its OFFSET, (page-1)*page_size, fits int64 and
    both databases take it; past the end is 200 with no items."""
    ws, _ = five
    top = 2 ** 53 - 1
    for page, size in ((10 ** 15, 25), (top, 100), (top, 1)):
        params = {"page": page, "page_size": size}
        if include_total:
            params["include_total"] = "true"
        body = ws.list("documents", params)
        assert body["items"] == [] and body["page"] == page and body["has_next"] is False, body
        assert body["has_previous"] is True
        if include_total:
            assert body["total"] == 5
    assert_422(ws.c.get(ws.path("documents"), {"page": top + 1}), "query", "page")
