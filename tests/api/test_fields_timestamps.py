"""CONTRACT §2, §8 — timestamps in and out: RFC 3339 with Z or an offset
(normalised to UTC), naive (UTC), date-only (midnight UTC), finer than µs
truncated; out always 2025-03-01T09:30:00.000000Z.  Checked on a body
field (document last_run_at, any member) and on created_at (admin)."""
import pytest

from fm import assert_422

GOOD = [
    ("2025-03-01T09:30:00Z", "2025-03-01T09:30:00.000000Z"),
    ("2025-03-01T09:30:00+00:00", "2025-03-01T09:30:00.000000Z"),
    ("2025-03-01T10:30:00+01:00", "2025-03-01T09:30:00.000000Z"),
    ("2025-03-01T05:30:00-04:00", "2025-03-01T09:30:00.000000Z"),
    ("2025-03-01T15:00:00+05:30", "2025-03-01T09:30:00.000000Z"),
    ("2025-03-01T00:30:00+01:00", "2025-02-28T23:30:00.000000Z"),
    ("2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00.000000Z"),
    ("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00.000000Z"),
    ("2025-03-01T09:30:00", "2025-03-01T09:30:00.000000Z"),
    ("2025-03-01T09:30:00.5", "2025-03-01T09:30:00.500000Z"),
    ("2025-03-01", "2025-03-01T00:00:00.000000Z"),
    ("2025-03-01T09:30:00.1Z", "2025-03-01T09:30:00.100000Z"),
    ("2025-03-01T09:30:00.123456Z", "2025-03-01T09:30:00.123456Z"),
    ("2025-03-01T09:30:00.1234567Z", "2025-03-01T09:30:00.123456Z"),
    ("2025-03-01T09:30:00.9999999Z", "2025-03-01T09:30:00.999999Z"),
    ("2025-03-01T09:30:00.999999999+01:00", "2025-03-01T08:30:00.999999Z"),
    ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"),
    ("0001-01-01", "0001-01-01T00:00:00.000000Z"),
    ("1900-01-01T00:00:00Z", "1900-01-01T00:00:00.000000Z"),
    ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
]

BAD = ["", "yesterday", "2025-13-01", "2025-02-30", "2025-02-29", "2025-03-01T25:00:00Z", "2025-03-01T09:60:00Z",
       "2025-03-01T09:30:00+25:00", "2025-3-1", "2025/03/01", "20250301", "2025-03-01T09:30:00ZZ",
       "2025-03-01T", "09:30:00", "9999-12-31T23:59:59-01:00", "2025-03-01T09:30:00+0100", " 2025-03-01",
       "2025-03-01\n", 1740821400, True, ["2025-03-01"], {"t": 1}]


@pytest.mark.parametrize("given,expected", GOOD)
def test_body_timestamp_normalised(ws, given, expected):
    d = ws.doc(last_run_at=given)
    assert d["last_run_at"] == expected
    assert ws.c.get(ws.path("documents", d["document_id"])).json["last_run_at"] == expected
    r = ws.c.patch(ws.path("documents", d["document_id"]), {"last_run_at": given})
    assert r.status == 200 and r.json["last_run_at"] == expected


@pytest.mark.parametrize("given", BAD, ids=[repr(b) for b in BAD])
def test_bad_body_timestamp_is_422(ws, given):
    r = ws.c.post(ws.path("documents"), {"original_filename": "a", "byte_size": 1, "last_run_at": given})
    assert_422(r, "body", "last_run_at")


@pytest.mark.parametrize("given,expected", GOOD[:12])
def test_created_at_normalised(api, ws, given, expected):
    r = api.admin.post(ws.path("documents"), {"original_filename": "a", "byte_size": 1, "created_at": given})
    assert r.status == 201 and r.json["created_at"] == expected, r


@pytest.mark.parametrize("given", ["2025-02-30", "nope", "", None])
def test_bad_created_at_is_422(api, ws, given):
    r = api.admin.post(ws.path("documents"), {"original_filename": "a", "byte_size": 1, "created_at": given})
    assert_422(r, "body", "created_at")


@pytest.mark.parametrize("given,expected", GOOD[::3])
def test_filter_timestamp_forms(ws, given, expected):
    d = ws.doc(last_run_at=expected)
    # [expected, …) holds it; […, expected) does not
    assert ws.ids("documents", {"last_run_from": given}) == [d["document_id"]]
    assert ws.ids("documents", {"last_run_to": given}) == []


@pytest.mark.parametrize("given", ["yesterday", "2025-02-30", "2025-03-01T25:00:00Z", "1740821400"])
def test_bad_filter_timestamp_is_422(ws, given):
    for param in ("created_at_from", "created_at_to", "last_run_from", "last_run_to"):
        r = ws.c.get(ws.path("documents"), params={param: given})
        assert_422(r, "query", param)
