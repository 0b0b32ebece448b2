"""CONTRACT §9 "Errors" (issue 10 point 4): a 422 lists every invalid or
missing field and query parameter of the request at once, in FastAPI's
shape, in a stable order: query parameters in the order they were sent,
body fields in the collection's field order and then the fields it does not
take in the body's order.  At most 32 entries.  An unsupported sort alone
stays a string detail (§2); beside other problems it is one entry of the
list."""
from fm import assert_422


def locs(r):
    return [tuple(e["loc"]) for e in assert_422(r)]


def test_create_with_empty_body_names_every_missing_field(ws):
    r = ws.c.post(ws.path("documents"), {})
    assert locs(r) == [("body", "original_filename"), ("body", "byte_size")]
    assert {e["type"] for e in r.json["detail"]} == {"missing"}
    assert all(e["msg"] == "Field required" for e in r.json["detail"])


def test_create_lists_invalid_missing_and_extra_fields_in_field_order(ws):
    r = ws.c.post(ws.path("documents"), {"zzz": 1, "status": "nope", "tags": "x", "original_filename": "",
                                         "aaa": 2, "document_id": "x"})
    assert locs(r) == [("body", "document_id"), ("body", "original_filename"), ("body", "byte_size"),
                       ("body", "status"), ("body", "tags"), ("body", "zzz"), ("body", "aaa")]
    types = [e["type"] for e in r.json["detail"]]
    assert types[0] == "extra_forbidden" and types[2] == "missing" and types[-2:] == ["extra_forbidden"] * 2


def test_patch_lists_every_bad_field(ws):
    doc = ws.create("documents", {"original_filename": "a.pdf", "byte_size": 1})
    r = ws.c.patch(ws.path("documents", doc["document_id"]),
                   {"byte_size": -1, "original_filename": None, "bogus": True})
    assert locs(r) == [("body", "original_filename"), ("body", "byte_size"), ("body", "bogus")]


def test_query_lists_every_bad_parameter_in_their_order(ws):
    r = ws.c.get(ws.path("documents"), params=[("page_size", "0"), ("status_in", "bogus"), ("sort", "nope")])
    d = assert_422(r)
    assert [tuple(e["loc"]) for e in d] == [("query", "page_size"), ("query", "status_in"), ("query", "sort")]
    assert [e["type"] for e in d] == ["greater_than_equal", "enum", "value_error"]
    assert d[2]["msg"].startswith("Unsupported sort field 'nope'. Allowed: ")
    r = ws.c.get(ws.path("documents"), params=[("sort", "nope"), ("foo", "1"), ("page", "x")])
    assert locs(r) == [("query", "sort"), ("query", "foo"), ("query", "page")]


def test_sort_error_alone_is_a_string(ws):
    r = ws.c.get(ws.path("documents"), params={"sort": "nope"})
    assert r.status == 422 and isinstance(r.json["detail"], str)
    assert r.json["detail"].startswith("Unsupported sort field 'nope'. Allowed: ")


def test_cursor_errors_keep_their_loc(ws):
    r = ws.c.get(ws.path("documents"), params=[("page_size", "0"), ("cursor", "abc"), ("page", "2")])
    assert locs(r) == [("query", "page_size"), ("query", "cursor")]
    r = ws.c.get(ws.path("documents"), params={"cursor": "garbled"})
    assert locs(r) == [("query", "cursor")]


def test_change_feed_lists_every_problem(ws):
    r = ws.c.get(ws.path("documents") + "/changes", params=[("limit", "0"), ("foo", "1")])
    assert locs(r) == [("query", "limit"), ("query", "foo"), ("query", "since")]


def test_at_most_32_entries(ws):
    params = [("x%02d" % i, "1") for i in range(40)]
    d = assert_422(ws.c.get(ws.path("documents"), params=params))
    assert [e["loc"] for e in d] == [["query", "x%02d" % i] for i in range(32)]


def test_member_body_lists_every_problem(ws):
    r = ws.c.post(ws.base + "/members", {"x": 1, "user_id": "nope"})
    assert locs(r) == [("body", "user_id"), ("body", "x")]
