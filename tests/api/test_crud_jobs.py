"""CONTRACT §4, §8 — jobs: config_id must be a config of the same
workspace (422), retry_of_job_id a job of the same workspace, enums,
1..128 strings, timestamps, no DELETE (405)."""
import pytest

from fm import TS_RE, assert_422, assert_error

ZERO_UUID = "00000000-0000-7000-8000-000000000000"


def test_defaults(ws):
    j = ws.job()
    assert j["status"] == "queued"
    assert j["workspace_id"] == ws.id and j["submitted_by_user_id"] == ws.owner.id
    for f in ("config_version_id", "trace_id", "retry_of_job_id", "started_at", "completed_at"):
        assert j[f] is None, f
    assert TS_RE.match(j["queued_at"]) and TS_RE.match(j["created_at"])


@pytest.mark.parametrize("status", ["queued", "running", "succeeded", "failed", "cancelled"])
def test_status_values(ws, status):
    assert ws.job(status=status)["status"] == status


@pytest.mark.parametrize("status", ["done", "QUEUED", "", None, 0, "canceled"])
def test_bad_status_422(ws, status):
    assert_422(ws.c.post(ws.path("jobs"), {"config_id": ws.default_config()["config_id"], "status": status}),
               "body", "status")


def test_config_id_rules(api, ws):
    assert_422(ws.c.post(ws.path("jobs"), {}), "body", "config_id")
    assert_422(ws.c.post(ws.path("jobs"), {"config_id": ZERO_UUID}), "body", "config_id")
    assert_422(ws.c.post(ws.path("jobs"), {"config_id": "not-a-uuid"}), "body", "config_id")
    assert_422(ws.c.post(ws.path("jobs"), {"config_id": None}), "body", "config_id")
    other = api.workspace(ws.owner)
    foreign = other.config()
    assert_422(ws.c.post(ws.path("jobs"), {"config_id": foreign["config_id"]}), "body", "config_id")
    # a job id is not a config id
    j = ws.job()
    assert_422(ws.c.post(ws.path("jobs"), {"config_id": j["job_id"]}), "body", "config_id")
    # PATCH
    assert_422(ws.c.patch(ws.path("jobs", j["job_id"]), {"config_id": foreign["config_id"]}), "body", "config_id")
    assert_422(ws.c.patch(ws.path("jobs", j["job_id"]), {"config_id": None}), "body", "config_id")
    mine2 = ws.config()
    r = ws.c.patch(ws.path("jobs", j["job_id"]), {"config_id": mine2["config_id"]})
    assert r.status == 200 and r.json["config_id"] == mine2["config_id"], r


def test_retry_of_job_id_rules(api, ws):
    first = ws.job()
    j = ws.job(retry_of_job_id=first["job_id"])
    assert j["retry_of_job_id"] == first["job_id"]
    other = api.workspace(ws.owner)
    foreign = other.job()
    cfg = ws.default_config()["config_id"]
    for bad in (foreign["job_id"], ZERO_UUID, "nope", cfg, 7):
        assert_422(ws.c.post(ws.path("jobs"), {"config_id": cfg, "retry_of_job_id": bad}), "body", "retry_of_job_id")
        assert_422(ws.c.patch(ws.path("jobs", j["job_id"]), {"retry_of_job_id": bad}), "body", "retry_of_job_id")
    r = ws.c.patch(ws.path("jobs", j["job_id"]), {"retry_of_job_id": None})
    assert r.status == 200 and r.json["retry_of_job_id"] is None


@pytest.mark.parametrize("field", ["trace_id", "config_version_id"])
def test_text_fields_1_to_128(ws, field):
    assert ws.job(**{field: "x"})[field] == "x"
    assert ws.job(**{field: "\u00e9" * 128})[field] == "\u00e9" * 128
    cfg = ws.default_config()["config_id"]
    for bad in ("", "a" * 129, "\u00e9" * 129, 5, ["a"]):
        assert_422(ws.c.post(ws.path("jobs"), {"config_id": cfg, field: bad}), "body", field)
    j = ws.job(**{field: "v"})
    r = ws.c.patch(ws.path("jobs", j["job_id"]), {field: None})
    assert r.status == 200 and r.json[field] is None


def test_timestamps_settable(ws):
    j = ws.job(queued_at="2025-03-01T09:00:00Z", started_at="2025-03-01T09:30:00+00:00",
               completed_at="2025-03-01T11:00:00+01:00")
    assert j["queued_at"] == "2025-03-01T09:00:00.000000Z"
    assert j["started_at"] == "2025-03-01T09:30:00.000000Z"
    assert j["completed_at"] == "2025-03-01T10:00:00.000000Z"
    r = ws.c.patch(ws.path("jobs", j["job_id"]), {"started_at": None, "completed_at": None})
    assert r.status == 200 and r.json["started_at"] is None and r.json["completed_at"] is None
    assert_422(ws.c.patch(ws.path("jobs", j["job_id"]), {"queued_at": None}), "body", "queued_at")
    assert_422(ws.c.patch(ws.path("jobs", j["job_id"]), {"status": None}), "body", "status")


def test_delete_is_405(ws):
    j = ws.job()
    r = ws.c.delete(ws.path("jobs", j["job_id"]))
    assert_error(r, 405)
    assert "DELETE" not in r.allow() and "GET" in r.allow()
    assert ws.c.get(ws.path("jobs", j["job_id"])).status == 200
