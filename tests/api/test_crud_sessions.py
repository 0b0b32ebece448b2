"""CONTRACT §4, §5, §8 — /v1/tests/sessions items: building_id (UUID,
required), status default and enum, technician_id 1..128, notes ≤ 10,000,
PUT replaces every writable field, PATCH, soft DELETE, privacy.
(The list, GET /v1/tests/sessions, is not in this milestone.)"""
import pytest

from fm import TS_RE, assert_422, assert_error, location_path

B1 = "0190f5a4-0000-7000-8000-000000000001"
B2 = "0190f5a4-0000-7000-8000-000000000002"
P = "/v1/tests/sessions"


def test_create_defaults(api, user):
    r = user.c.post(P, {"building_id": B1})
    assert r.status == 201, r
    s = r.json
    assert location_path(r) == "%s/%s" % (P, s["id"])
    assert s["building_id"] == B1 and s["status"] == "scheduled"
    assert s["technician_id"] is None and s["notes"] is None
    assert s["created_by"] == user.id
    assert TS_RE.match(s["created_at"]) and TS_RE.match(s["updated_at"])
    assert "deleted_at" not in s or s["deleted_at"] is None


@pytest.mark.parametrize("status", ["scheduled", "in_progress", "completed", "failed", "cancelled"])
def test_status_values(api, user, status):
    assert api.session(user.c, status=status)["status"] == status


@pytest.mark.parametrize("body,field", [
    ({}, "building_id"), ({"building_id": None}, "building_id"), ({"building_id": "b-1"}, "building_id"),
    ({"building_id": 12}, "building_id"), ({"building_id": B1, "status": "done"}, "status"),
    ({"building_id": B1, "status": None}, "status"), ({"building_id": B1, "status": "IN_PROGRESS"}, "status"),
    ({"building_id": B1, "technician_id": ""}, "technician_id"),
    ({"building_id": B1, "technician_id": "t" * 129}, "technician_id"),
    ({"building_id": B1, "technician_id": 5}, "technician_id"),
    ({"building_id": B1, "notes": "n" * 10001}, "notes"), ({"building_id": B1, "notes": 5}, "notes"),
    ({"building_id": B1, "created_by": B2}, "created_by"), ({"building_id": B1, "id": B2}, "id"),
    ({"building_id": B1, "extra": 1}, "extra"),
])
def test_bad_bodies_are_422(user, body, field):
    assert_422(user.c.post(P, body), "body", field)


def test_lengths_in_code_points(api, user):
    s = api.session(user.c, technician_id="\u00e9" * 128, notes="\U0001F525" * 10000)
    assert s["technician_id"] == "\u00e9" * 128 and s["notes"] == "\U0001F525" * 10000
    assert api.session(user.c, notes="")["notes"] == ""
    assert_422(user.c.post(P, {"building_id": B1, "notes": "\u00e9" * 10001}), "body", "notes")


def test_put_replaces_every_writable_field(api, user):
    s = api.session(user.c, status="in_progress", technician_id="tech", notes="n")
    p = "%s/%s" % (P, s["id"])
    r = user.c.put(p, {"building_id": B2})
    assert r.status == 200, r
    o = r.json
    assert o["building_id"] == B2 and o["status"] == "scheduled"
    assert o["technician_id"] is None and o["notes"] is None
    assert o["id"] == s["id"] and o["created_at"] == s["created_at"] and o["created_by"] == user.id
    assert o["updated_at"] >= s["updated_at"]
    assert o["vector_clock"] == {"test-a": 2}
    assert user.c.get(p).json == o
    r = user.c.put(p, {"building_id": B1, "status": "completed", "technician_id": "t2", "notes": "x"})
    assert r.status == 200
    assert (r.json["building_id"], r.json["status"], r.json["technician_id"], r.json["notes"]) == (
        B1, "completed", "t2", "x")


@pytest.mark.parametrize("body,field", [
    ({}, "building_id"), ({"status": "completed"}, "building_id"), ({"building_id": None}, "building_id"),
    ({"building_id": B1, "status": None}, "status"), ({"building_id": B1, "bogus": 1}, "bogus"),
    ({"building_id": B1, "notes": "n" * 10001}, "notes"), ({"building_id": B1, "created_at": "2020-01-01"},
                                                           "created_at"),
])
def test_put_bad_bodies_are_422(api, user, body, field):
    s = api.session(user.c, notes="keep")
    p = "%s/%s" % (P, s["id"])
    assert_422(user.c.put(p, body), "body", field)
    assert user.c.get(p).json == s


def test_put_nullable_null_is_fine(api, user):
    s = api.session(user.c, notes="n", technician_id="t")
    r = user.c.put("%s/%s" % (P, s["id"]), {"building_id": B1, "notes": None, "technician_id": None})
    assert r.status == 200 and r.json["notes"] is None and r.json["technician_id"] is None


def test_patch_changes_only_sent_fields(api, user):
    s = api.session(user.c, technician_id="tech", notes="n")
    p = "%s/%s" % (P, s["id"])
    r = user.c.patch(p, {"status": "in_progress"})
    assert r.status == 200, r
    assert r.json["status"] == "in_progress" and r.json["technician_id"] == "tech" and r.json["notes"] == "n"
    r = user.c.patch(p, {"notes": None})
    assert r.status == 200 and r.json["notes"] is None and r.json["technician_id"] == "tech"
    for body, field in (({"building_id": None}, "building_id"), ({"status": None}, "status"),
                        ({"building_id": "x"}, "building_id"), ({"status": "nope"}, "status")):
        assert_422(user.c.patch(p, body), "body", field)


def test_delete(api, user):
    s = api.session(user.c)
    p = "%s/%s" % (P, s["id"])
    r = user.c.delete(p)
    assert r.status == 204 and r.body == b""
    assert_error(user.c.get(p), 404)
    assert_error(user.c.put(p, {"building_id": B1}), 404)
    assert_error(user.c.patch(p, {"notes": "x"}), 404)
    assert_error(user.c.delete(p), 404)


def test_created_at_admin_only(api, user):
    assert_422(user.c.post(P, {"building_id": B1, "created_at": "2024-01-01"}), "body", "created_at")
    r = api.admin.post(P, {"building_id": B1, "created_at": "2024-01-01"})
    assert r.status == 201 and r.json["created_at"] == "2024-01-01T00:00:00.000000Z"
