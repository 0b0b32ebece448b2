"""CONTRACT §3, §4, §8 — filters of each collection: `*_in` (CSV, repeated,
empty items ignored, unknown enum → 422), equality filters, half-open
ranges [from, to), `<field>_is_null`, include_deleted, tag_in (any of, no
duplicate rows), the config title filter, and users' flags."""
import pytest

from fm import assert_422, unique

# ---- documents -------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs(api):
    ws = api.workspace()
    other = api.user()
    assert ws.c.post(ws.base + "/members", {"user_id": other.id}).status == 201
    rows = [
        # name, status, source, created_at, last_run_at, tags, by_other
        ("d0", "uploaded", "upload", "2025-03-01T00:00:00Z", None, ["x", "y"], False),
        ("d1", "queued", "email", "2025-03-01T09:30:00Z", "2025-03-01T09:30:00Z", ["x"], False),
        ("d2", "processing", "api", "2025-03-01T09:30:00.000001Z", "2025-03-02T00:00:00Z", ["y", "z"], True),
        ("d3", "processed", "import", "2025-03-02T00:00:00Z", "2025-03-01T23:59:59.999999Z", [], True),
        ("d4", "failed", "upload", "2025-03-01T23:59:59.999999Z", None, ["X"], False),
        ("d5", "failed", "email", "2025-02-28T23:59:59Z", "2025-02-01T00:00:00Z", ["x", "y", "z"], False),
    ]
    # ws: rows written by their uploaders (two members); ws2: the same rows with admin-set created_at
    by = {}
    for name, status, source, created, last, tags, by_other in rows:
        body = {"original_filename": name, "byte_size": 1, "status": status, "source": source, "tags": tags,
                "last_run_at": last}
        by[name] = ws.doc(client=other.c if by_other else ws.c, **body)
    ws2 = api.workspace(ws.owner)
    by2 = {}
    for name, status, source, created, last, tags, by_other in rows:
        body = {"original_filename": name, "byte_size": 1, "status": status, "source": source, "tags": tags,
                "last_run_at": last, "created_at": created}
        by2[name] = ws2.doc(client=api.admin, **body)
    deleted = ws2.doc(client=api.admin, original_filename="gone", status="failed", tags=["x"],
                      created_at="2025-03-01T12:00:00Z")
    assert ws2.c.delete(ws2.path("documents", deleted["document_id"])).status == 204
    return {"ws": ws, "by": by, "other": other, "ws2": ws2, "by2": by2, "deleted": deleted}


def names(ws, params, key="documents"):
    r = ws.c.get(ws.path(key), params=dict(params, page_size=100) if isinstance(params, dict) else
                 list(params) + [("page_size", 100)])
    assert r.status == 200, (params, r)
    field = "original_filename" if key == "documents" else "title"
    return sorted(it[field] for it in r.json["items"])


@pytest.mark.parametrize("params,expect", [
    ({"status_in": "failed"}, ["d4", "d5"]),
    ({"status_in": "failed,queued"}, ["d1", "d4", "d5"]),
    ([("status_in", "failed"), ("status_in", "queued")], ["d1", "d4", "d5"]),
    ([("status_in", "failed,uploaded"), ("status_in", "queued")], ["d0", "d1", "d4", "d5"]),
    ({"status_in": "failed,,queued"}, ["d1", "d4", "d5"]),
    ({"status_in": ",failed,"}, ["d4", "d5"]),
    ({"status_in": "failed,failed"}, ["d4", "d5"]),
    ([("status_in", "failed"), ("status_in", "")], ["d4", "d5"]),
    ({"source_in": "email"}, ["d1", "d5"]),
    ({"source_in": "upload,import"}, ["d0", "d3", "d4"]),
    ({"source_in": "email", "status_in": "failed"}, ["d5"]),
    ({"status_in": "uploaded,queued,processing,processed,failed"}, ["d0", "d1", "d2", "d3", "d4", "d5"]),
])
def test_documents_in_filters(docs, params, expect):
    assert names(docs["ws"], params) == expect


def test_documents_in_filter_repeated_with_an_empty_one(docs):
    ws = docs["ws"]
    r = ws.c.request("GET", ws.path("documents") + "?status_in=failed&status_in=,,")
    assert r.status == 200, r
    assert sorted(it["original_filename"] for it in r.json["items"]) == ["d4", "d5"]


def test_documents_in_filter_encoded_comma(docs):
    ws = docs["ws"]
    r = ws.c.request("GET", ws.path("documents") + "?status_in=failed%2Cqueued")
    assert sorted(it["original_filename"] for it in r.json["items"]) == ["d1", "d4", "d5"]


@pytest.mark.parametrize("raw", ["status_in=,,", "status_in=,", "source_in=,,,", "status_in=failed,bogus",
                                 "status_in=Failed"])
def test_documents_bad_in_filters(docs, raw):
    ws = docs["ws"]
    r = ws.c.request("GET", ws.path("documents") + "?" + raw)
    assert r.status == 422, (raw, r)


def test_documents_uploaded_by(docs):
    ws = docs["ws"]
    assert names(ws, {"uploaded_by_user_id": docs["other"].id}) == ["d2", "d3"]
    assert names(ws, {"uploaded_by_user_id": ws.owner.id}) == ["d0", "d1", "d4", "d5"]
    assert names(ws, {"uploaded_by_user_id": "00000000-0000-7000-8000-000000000000"}) == []
    assert_422(ws.c.get(ws.path("documents"), params={"uploaded_by_user_id": "me"}), "query", "uploaded_by_user_id")


@pytest.mark.parametrize("params,expect", [
    ({"created_at_from": "2025-03-01T09:30:00Z"}, ["d1", "d2", "d3", "d4"]),
    ({"created_at_from": "2025-03-01T09:30:00.000001Z"}, ["d2", "d3", "d4"]),
    ({"created_at_to": "2025-03-01T09:30:00Z"}, ["d0", "d5"]),
    ({"created_at_to": "2025-03-01T09:30:00.000001Z"}, ["d0", "d1", "d5"]),
    ({"created_at_from": "2025-03-01", "created_at_to": "2025-03-02"}, ["d0", "d1", "d2", "d4"]),
    ({"created_at_from": "2025-03-01T09:30:00Z", "created_at_to": "2025-03-01T09:30:00Z"}, []),
    ({"created_at_from": "2025-03-02", "created_at_to": "2025-03-01"}, []),
    ({"created_at_from": "2025-03-01T10:30:00+01:00", "created_at_to": "2025-03-01T09:30:00.000002"}, ["d1", "d2"]),
    ({"created_at_to": "2025-03-01T00:00:00+00:00"}, ["d5"]),
    ({"created_at_from": "2025-03-01T23:59:59.9999999Z"}, ["d3", "d4"]),
    ({"last_run_from": "2025-03-01T09:30:00Z"}, ["d1", "d2", "d3"]),
    ({"last_run_to": "2025-03-02"}, ["d1", "d3", "d5"]),
    ({"last_run_from": "2025-03-01", "last_run_to": "2025-03-02"}, ["d1", "d3"]),
    ({"last_run_to": "2030-01-01"}, ["d1", "d2", "d3", "d5"]),
    ({"last_run_from": "1970-01-01"}, ["d1", "d2", "d3", "d5"]),
])
def test_documents_ranges_half_open(docs, params, expect):
    assert names(docs["ws2"], params) == expect


@pytest.mark.parametrize("value,expect", [("true", ["d0", "d4"]), ("false", ["d1", "d2", "d3", "d5"]),
                                          ("1", ["d0", "d4"]), ("no", ["d1", "d2", "d3", "d5"]),
                                          ("TRUE", ["d0", "d4"]), ("Off", ["d1", "d2", "d3", "d5"])])
def test_documents_last_run_at_is_null(docs, value, expect):
    assert names(docs["ws"], {"last_run_at_is_null": value}) == expect


def test_documents_is_null_combined_with_range(docs):
    assert names(docs["ws2"], {"last_run_at_is_null": "true", "created_at_from": "2025-03-01T12:00:00Z"}) == ["d4"]


@pytest.mark.parametrize("params,expect", [
    ({"tag_in": "x"}, ["d0", "d1", "d5"]),
    ({"tag_in": "x,y"}, ["d0", "d1", "d2", "d5"]),
    ([("tag_in", "x"), ("tag_in", "y"), ("tag_in", "z")], ["d0", "d1", "d2", "d5"]),
    ({"tag_in": "X"}, ["d4"]),
    ({"tag_in": "z,,"}, ["d2", "d5"]),
    ({"tag_in": "nope"}, []),
    ({"tag_in": "x,X", "status_in": "failed"}, ["d4", "d5"]),
])
def test_documents_tag_in(docs, params, expect):
    assert names(docs["ws"], params) == expect


def test_tag_in_no_duplicate_rows_and_exact_total(docs):
    ws = docs["ws"]
    r = ws.c.get(ws.path("documents"), params={"tag_in": "x,y,z", "include_total": "true", "page_size": 2})
    assert r.status == 200
    assert r.json["total"] == 4 and r.json["has_next"] is True
    ids = []
    for page in (1, 2, 3):
        r = ws.c.get(ws.path("documents"), params={"tag_in": "x,y,z", "page_size": 2, "page": page})
        ids += [it["document_id"] for it in r.json["items"]]
    assert len(ids) == len(set(ids)) == 4
    r = ws.c.get(ws.path("documents"), params={"tag_in": "x,y,z", "page_size": 2, "page": 2})
    assert r.json["has_next"] is False


@pytest.mark.parametrize("raw", ["tag_in=,,", "tag_in=" + "t" * 65])
def test_documents_bad_tag_in(docs, raw):
    ws = docs["ws"]
    r = ws.c.request("GET", ws.path("documents") + "?" + raw)
    assert r.status == 422, (raw, r)


def test_documents_include_deleted(docs):
    ws2 = docs["ws2"]
    assert "gone" not in names(ws2, {})
    assert "gone" in names(ws2, {"include_deleted": "true"})
    assert "gone" not in names(ws2, {"include_deleted": "false"})
    assert "gone" in names(ws2, {"include_deleted": "yes", "tag_in": "x", "status_in": "failed"})
    assert_422(ws2.c.get(ws2.path("documents"), params={"deleted_at_is_null": "true"}), "query")


def test_documents_filters_are_per_workspace(docs):
    # the same rows exist in ws and ws2: filters never leak across workspaces
    r = docs["ws"].list("documents", {"status_in": "failed", "include_total": "true"})
    assert r["total"] == 2


# ---- jobs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jobs(api):
    ws = api.workspace()
    other = api.user()
    ws.c.post(ws.base + "/members", {"user_id": other.id})
    c1, c2 = ws.config()["config_id"], ws.config()["config_id"]
    j = {}
    j["j0"] = ws.job(client=api.admin, config_id=c1, status="queued", created_at="2025-03-01T00:00:00Z")
    j["j1"] = ws.job(client=api.admin, config_id=c1, status="running", trace_id="tr-1", config_version_id="v1",
                     started_at="2025-03-01T01:00:00Z", created_at="2025-03-01T09:30:00Z")
    j["j2"] = ws.job(client=api.admin, config_id=c2, status="failed", trace_id="tr-2", config_version_id="v2",
                     started_at="2025-03-01T01:00:00Z", completed_at="2025-03-01T02:00:00Z",
                     created_at="2025-03-02T00:00:00Z")
    j["j3"] = ws.job(client=other.c, config_id=c2, status="queued", retry_of_job_id=j["j2"]["job_id"],
                     trace_id="TR-1")
    j["j4"] = ws.job(client=other.c, config_id=c1, status="cancelled", retry_of_job_id=j["j2"]["job_id"],
                     completed_at="2025-03-01T03:00:00Z", config_version_id="v1")
    return {"ws": ws, "j": j, "c1": c1, "c2": c2, "other": other}


def jnames(jobs, params):
    inv = {v["job_id"]: k for k, v in jobs["j"].items()}
    ws = jobs["ws"]
    r = ws.c.get(ws.path("jobs"), params=dict(params, page_size=100) if isinstance(params, dict)
                 else list(params) + [("page_size", 100)])
    assert r.status == 200, (params, r)
    return sorted(inv[it["job_id"]] for it in r.json["items"])


def test_jobs_filters(jobs):
    j = jobs["j"]
    cases = [
        ({"status_in": "queued"}, ["j0", "j3"]),
        ({"status_in": "queued,cancelled"}, ["j0", "j3", "j4"]),
        ([("status_in", "running"), ("status_in", "failed,")], ["j1", "j2"]),
        ({"config_id": jobs["c1"]}, ["j0", "j1", "j4"]),
        ({"config_id": jobs["c2"]}, ["j2", "j3"]),
        ({"config_version_id": "v1"}, ["j1", "j4"]),
        ({"config_version_id": "V1"}, []),
        ({"submitted_by_user_id": jobs["other"].id}, ["j3", "j4"]),
        ({"trace_id": "tr-1"}, ["j1"]),
        ({"trace_id": "TR-1"}, ["j3"]),
        ({"trace_id": "tr"}, []),
        ({"retry_of_job_id": j["j2"]["job_id"]}, ["j3", "j4"]),
        ({"created_at_from": "2025-03-01T09:30:00Z", "created_at_to": "2025-03-02"}, ["j1"]),
        ({"created_at_to": "2025-03-01T09:30:00Z"}, ["j0"]),
        ({"config_version_id_is_null": "true"}, ["j0", "j3"]),
        ({"config_version_id_is_null": "false"}, ["j1", "j2", "j4"]),
        ({"trace_id_is_null": "true"}, ["j0", "j4"]),
        ({"trace_id_is_null": "false"}, ["j1", "j2", "j3"]),
        ({"retry_of_job_id_is_null": "true"}, ["j0", "j1", "j2"]),
        ({"retry_of_job_id_is_null": "false"}, ["j3", "j4"]),
        ({"started_at_is_null": "true"}, ["j0", "j3", "j4"]),
        ({"started_at_is_null": "false"}, ["j1", "j2"]),
        ({"completed_at_is_null": "true"}, ["j0", "j1", "j3"]),
        ({"completed_at_is_null": "false"}, ["j2", "j4"]),
        ({"completed_at_is_null": "false", "status_in": "failed"}, ["j2"]),
    ]
    for params, expect in cases:
        assert jnames(jobs, params) == expect, params


# ---- configs ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def configs(api):
    ws = api.workspace()
    other = api.user()
    ws.c.post(ws.base + "/members", {"user_id": other.id})
    rows = [("alpha", "Daily Report", ws.c, "2025-03-01T00:00:00Z"), ("beta", "daily report v2", ws.c, None),
            ("gamma", "R\u00e9sum\u00e9 build", other.c, None), ("delta", "50% off_sale\\x", other.c, None),
            ("eps", "x", ws.c, "2025-03-02T00:00:00Z")]
    by = {}
    for slug, title, c, created in rows:
        if created:
            by[slug] = ws.config(client=api.admin, slug=slug, title=title, created_at=created)
        else:
            by[slug] = ws.config(client=c, slug=slug, title=title)
    gone = ws.config(slug="gone", title="Daily gone")
    ws.c.delete(ws.path("configs", gone["config_id"]))
    return {"ws": ws, "by": by, "other": other}


def cslugs(configs, params):
    ws = configs["ws"]
    r = ws.c.get(ws.path("configs"), params=dict(params, page_size=100))
    assert r.status == 200, (params, r)
    return sorted(it["slug"] for it in r.json["items"])


@pytest.mark.parametrize("params,expect", [
    ({"slug": "alpha"}, ["alpha"]),
    ({"slug": "alph"}, []),
    ({"slug": "gone"}, []),
    ({"slug": "gone", "include_deleted": "true"}, ["gone"]),
    ({"title": "daily"}, ["alpha", "beta"]),
    ({"title": "DAILY REPORT"}, ["alpha", "beta"]),
    ({"title": "  report v2  "}, ["beta"]),
    ({"title": "d"}, ["alpha", "beta", "gamma"]),
    ({"title": "R\u00e9sum\u00e9"}, ["gamma"]),
    ({"title": "r\u00e9sum\u00e9"}, ["gamma"]),
    ({"title": "R\u00c9SUM\u00c9"}, []),
    ({"title": "%"}, ["delta"]),
    ({"title": "_"}, ["delta"]),
    ({"title": "\\"}, ["delta"]),
    ({"title": "0% off_"}, ["delta"]),
    ({"title": "daily", "include_deleted": "true"}, ["alpha", "beta", "gone"]),
    ({"title": "x" * 128}, []),
    ({"created_at_from": "2025-03-01", "created_at_to": "2025-03-02"}, ["alpha"]),
    ({"created_at_to": "2025-03-02T00:00:00Z"}, ["alpha"]),
])
def test_configs_filters(configs, params, expect):
    assert cslugs(configs, params) == expect


def test_configs_created_by(configs):
    assert cslugs(configs, {"created_by_user_id": configs["other"].id}) == ["delta", "gamma"]


@pytest.mark.parametrize("title", ["", " ", "   ", "x" * 129, "\u00e9" * 129])
def test_configs_bad_title_filter(configs, title):
    ws = configs["ws"]
    r = ws.c.request("GET", ws.path("configs") + "?title=" + __import__("urllib.parse").parse.quote(title))
    assert_422(r, "query", "title")


def test_configs_title_128_code_points_ok(configs):
    ws = configs["ws"]
    assert ws.c.get(ws.path("configs"), params={"title": "\u00e9" * 128}).status == 200


# ---- users ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def users(api):
    m = unique("flt")
    rows = [("u0", "Alice", None, True, False, "2025-03-01T00:00:00Z"),
            ("u1", None, "2025-03-01T09:30:00Z", True, True, "2025-03-01T09:30:00Z"),
            ("u2", "Bob", "2025-03-02T00:00:00Z", False, False, "2025-03-02T00:00:00Z"),
            ("u3", "Carol", "2025-02-01T00:00:00Z", False, True, "2025-02-28T00:00:00Z")]
    by = {}
    for local, dn, last, active, svc, created in rows:
        r = api.admin.post("/users", {"email": "%s.%s@example.com" % (local, m), "display_name": dn,
                                      "last_login_at": last, "is_active": active, "is_service_account": svc,
                                      "created_at": created})
        assert r.status == 201, r
        by[local] = r.json
    return {"m": m, "by": by}


def unames(api, users, params):
    inv = {v["user_id"]: k for k, v in users["by"].items()}
    r = api.admin.get("/users", params=dict(params, q=users["m"], page_size=100))
    assert r.status == 200, (params, r)
    return sorted(inv[it["user_id"]] for it in r.json["items"])


@pytest.mark.parametrize("params,expect", [
    ({}, ["u0", "u1", "u2", "u3"]),
    ({"is_active": "true"}, ["u0", "u1"]),
    ({"is_active": "false"}, ["u2", "u3"]),
    ({"is_active": "0"}, ["u2", "u3"]),
    ({"is_service_account": "yes"}, ["u1", "u3"]),
    ({"is_service_account": "off", "is_active": "on"}, ["u0"]),
    ({"created_at_from": "2025-03-01T09:30:00Z"}, ["u1", "u2"]),
    ({"created_at_to": "2025-03-01T09:30:00Z"}, ["u0", "u3"]),
    ({"created_at_from": "2025-03-01", "created_at_to": "2025-03-02"}, ["u0", "u1"]),
    ({"last_login_from": "2025-03-01T09:30:00Z"}, ["u1", "u2"]),
    ({"last_login_to": "2025-03-01T09:30:00Z"}, ["u3"]),
    ({"last_login_from": "2025-01-01", "last_login_to": "2025-03-02"}, ["u1", "u3"]),
    ({"display_name_is_null": "true"}, ["u1"]),
    ({"display_name_is_null": "false"}, ["u0", "u2", "u3"]),
    ({"last_login_at_is_null": "true"}, ["u0"]),
    ({"last_login_at_is_null": "false"}, ["u1", "u2", "u3"]),
])
def test_users_filters(api, users, params, expect):
    assert unames(api, users, params) == expect


def test_users_q_matches_display_name(api, users):
    m = users["m"]
    # q matches email or display_name
    r = api.admin.get("/users", params={"q": "carol", "created_at_from": "2025-02-28", "created_at_to": "2025-03-01",
                                        "page_size": 100})
    assert users["by"]["u3"]["user_id"] in [it["user_id"] for it in r.json["items"]]
    r = api.admin.get("/users", params={"q": "u2." + m.upper()})
    assert [it["user_id"] for it in r.json["items"]] == [users["by"]["u2"]["user_id"]]
