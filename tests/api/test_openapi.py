"""CONTRACT §7 and issue 8 — GET /openapi.json (OpenAPI 3.1, generated from the tables), GET /docs.

The document is also checked against every answer of the suite (openapi_check.py); here: that it is
valid (the OpenAPI 3.1 schema through npm's @seriousme/openapi-schema-validator, every schema a valid
draft 2020-12 schema), complete (every route and method the server serves), and says what the issue
asks of it."""
import json
import os
import subprocess

import pytest

import fm
from fm import REPO, Resp, assert_error
from openapi_check import Checker, OpenAPIMismatch, check_document_schemas

ZERO = "00000000-0000-7000-8000-000000000000"
OPS = ("get", "head", "post", "put", "patch", "delete", "options")
# Described from the contract before their handlers land (cursors and change feeds): until then
# the server may not serve these methods on these paths.
PENDING = set()  # contract endpoints documented before their handlers exist (none now)


@pytest.fixture(scope="module")
def doc(anon):
    r = anon.get("/openapi.json")
    assert r.status == 200, r
    return r.json


def params_of(doc, path, method="get"):
    return {p["name"]: p for p in (resolve(doc, p) for p in doc["paths"][path][method].get("parameters", []))}


def resolve(doc, obj):
    while "$ref" in obj:
        node = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def schema(doc, name):
    return doc["components"]["schemas"][name]


def test_document_is_public_openapi_3_1_built_once(anon, doc):
    assert doc["openapi"] == "3.1.0"
    a, b = anon.get("/openapi.json"), anon.get("/openapi.json/")
    assert a.body == b.body, "built once at start, the same bytes every time"
    assert a.header("Content-Type").startswith("application/json")
    assert anon.head("/openapi.json").status == 200


def test_document_passes_an_openapi_3_1_validator(doc, tmp_path):
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc))
    script = os.path.join(REPO, "tests", "openapi", "validate.mjs")
    assert os.path.isdir(os.path.join(REPO, "node_modules", "@seriousme")), "run make (npm ci) first"
    p = subprocess.run(["node", script, str(path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "valid OpenAPI 3.1" in p.stdout


def test_every_schema_is_a_valid_json_schema_2020_12(doc):
    assert check_document_schemas(doc) > 100


def test_every_route_and_method_the_server_serves_is_documented(api, doc):
    """OPTIONS on each documented path: the methods in Allow are exactly the document's (contract-described
    endpoints that have no handler yet are PENDING, or whole pending paths that answer 404)."""
    for path, item in doc["paths"].items():
        concrete = path.replace("{file}", "swagger-ui.css")
        for p in ("{workspace_id}", "{user_id}", "{document_id}", "{job_id}", "{config_id}", "{id}", "{token_id}"):
            concrete = concrete.replace(p, ZERO)
        r = api.admin.options(concrete)
        documented = {m for m in OPS if m in item}
        assert r.status == 204, (path, r)
        allow = {m.strip().lower() for m in r.header("Allow").split(",")}
        assert allow <= documented, (path, "served but not documented", allow - documented)
        missing = {m for m in documented - allow if (path, m) not in PENDING}
        assert not missing, (path, "documented but not served", missing)


def test_public_endpoints_need_no_token_and_others_use_bearer(doc):
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        **doc["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearerAuth": []}]
    for p in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert doc["paths"][p]["get"]["security"] == [], p
    assert "security" not in doc["paths"]["/me"]["get"]


def test_list_parameters_describe_the_grammar(doc):
    for coll, path in (("documents", "/workspaces/{workspace_id}/documents"), ("users", "/users"),
                       ("jobs", "/workspaces/{workspace_id}/jobs"), ("configs", "/workspaces/{workspace_id}/configs"),
                       ("workspaces", "/workspaces")):
        ps = params_of(doc, path)
        for name in fm.COMMON_PARAMS + fm.FILTERS[coll]:
            assert name in ps, (coll, name)
            assert ps[name]["description"] and ps[name]["schema"], (coll, name)
        sort = ps["sort"]
        for f in fm.SORTS[coll]:
            assert "`%s`" % f in sort["description"], (coll, f)
        assert "Example: `-created_at," in sort["description"] and sort["example"].startswith("-created_at,")
        assert sort["schema"]["default"] == "-created_at"
        assert ps["page"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 2 ** 53 - 1, "default": 1}
        assert ps["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}
        assert ps["include_total"]["schema"]["type"] == "boolean"
    ws_sort = params_of(doc, "/workspaces")["sort"]
    assert "Example: `-created_at,name`" in ws_sort["description"]
    ps = params_of(doc, "/workspaces/{workspace_id}/documents")
    st = ps["status_in"]
    assert st["style"] == "form" and st["explode"] is True and st["schema"]["type"] == "array"
    assert st["schema"]["items"]["enum"] == ["uploaded", "queued", "processing", "processed", "failed"]
    assert ps["tag_in"]["schema"]["items"]["maxLength"] == 64 and ps["tag_in"]["explode"] is True
    assert ps["created_at_from"]["schema"]["format"] == "date-time"
    assert ps["uploaded_by_user_id"]["schema"]["format"] == "uuid"
    assert ps["q"]["schema"]["minLength"] == 2 and ps["q"]["schema"]["maxLength"] == 128
    assert ps["include_deleted"]["schema"] == {"type": "boolean", "default": False}
    assert ps["last_run_at_is_null"]["schema"]["type"] == "boolean"
    assert ps["workspace_id"]["in"] == "path" and ps["workspace_id"]["required"] is True


def test_request_bodies_per_collection_and_mode(doc):
    dc = schema(doc, "DocumentCreate")
    assert set(dc["required"]) == {"original_filename", "byte_size"}
    assert dc["additionalProperties"] is False
    p = dc["properties"]
    assert p["document_id"]["readOnly"] is True and p["uploaded_by_user_id"]["readOnly"] is True
    assert p["original_filename"]["minLength"] == 1 and p["original_filename"]["maxLength"] == 255
    assert p["status"]["enum"] == ["uploaded", "queued", "processing", "processed", "failed"]
    assert p["status"]["default"] == "uploaded" and p["tags"]["default"] == []
    assert p["tags"]["items"] == {"type": "string", "minLength": 1, "maxLength": 64}
    assert p["last_run_at"]["type"] == ["string", "null"] and p["last_run_at"]["format"] == "date-time"
    assert p["byte_size"]["minimum"] == 0 and p["byte_size"]["type"] == "integer"
    assert "admin" in p["created_at"]["description"]
    dp = schema(doc, "DocumentPatch")
    assert "required" not in dp and dp["properties"]["created_at"]["readOnly"] is True
    assert schema(doc, "UserCreate")["properties"]["email"]["format"] == "email"
    assert schema(doc, "ConfigCreate")["properties"]["slug"]["pattern"] == "^[a-z0-9][a-z0-9-]{0,63}$"
    assert schema(doc, "JobCreate")["properties"]["config_id"]["format"] == "uuid"
    put = schema(doc, "TestSessionPut")
    assert put["required"] == ["building_id"] and put["properties"]["status"]["default"] == "scheduled"
    assert put["properties"]["notes"]["maxLength"] == 10000 and put["properties"]["id"]["readOnly"] is True
    assert schema(doc, "Empty")["maxProperties"] == 0
    post = doc["paths"]["/workspaces/{workspace_id}/documents"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DocumentCreate"}


def test_envelopes_items_and_the_firemode_v1_list(doc):
    page = schema(doc, "DocumentPage")
    assert {"items", "page", "page_size", "has_previous", "has_next"} <= set(page["required"])
    assert page["properties"]["next_cursor"]["type"] == ["string", "null"]
    assert page["properties"]["sync_token"]["type"] == "string"
    item = schema(doc, "Document")
    assert item["properties"]["tags"]["maxItems"] == 32 and item["properties"]["tags"]["uniqueItems"] is True
    assert item["properties"]["vector_clock"]["type"] == "object"
    assert "seq" not in item["properties"] and "email_canonical" not in schema(doc, "User")["properties"]
    v1 = schema(doc, "TestSessionPageV1")
    assert set(v1["required"]) == {"data", "next_cursor", "sync_token"}
    ps = params_of(doc, "/v1/tests/sessions")
    assert set(ps) == {"limit", "cursor", "status", "date_from", "date_to", "technician_id", "sort"}
    assert ps["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert ps["status"]["explode"] is True and "scheduled" in ps["status"]["schema"]["items"]["enum"]
    assert ps["sort"]["schema"]["default"] == "created_at"


def test_errors_headers_and_conditional_requests(doc):
    ve = schema(doc, "ValidationError")
    assert ve["properties"]["detail"]["type"] == "array"
    assert set(ve["properties"]["detail"]["items"]["required"]) == {"loc", "msg", "type"}
    item = doc["paths"]["/workspaces/{workspace_id}/documents/{document_id}"]
    assert "If-None-Match" in params_of(doc, "/workspaces/{workspace_id}/documents/{document_id}")
    assert "304" in item["get"]["responses"] and "ETag" in item["get"]["responses"]["200"]["headers"]
    for m in ("patch", "delete"):
        assert "If-Match" in params_of(doc, "/workspaces/{workspace_id}/documents/{document_id}", m)
        for code in ("409", "412", "428"):
            assert code in item[m]["responses"], (m, code)
        refused = item[m]["responses"]["412"]["content"]["application/json"]["schema"]
        assert set(resolve(doc, refused)["properties"]) == {"detail", "current"}
    put = doc["paths"]["/v1/tests/sessions/{id}"]["put"]
    assert {"409", "412", "428", "422"} <= set(put["responses"])
    created = doc["paths"]["/workspaces/{workspace_id}/documents"]["post"]["responses"]["201"]
    assert resolve(doc, created["headers"]["Location"])["required"] is True
    assert resolve(doc, created["headers"]["X-Request-Id"])["required"] is True
    assert "422" in doc["paths"]["/workspaces/{workspace_id}/documents"]["get"]["responses"]


def test_change_feeds(doc):
    for path, key in (("/workspaces/{workspace_id}/documents/changes", "items"), ("/users/changes", "items"),
                      ("/v1/tests/sessions/changes", "data")):
        ps = params_of(doc, path)
        assert ps["since"]["required"] is True
        assert ps["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
        body = resolve(doc, doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"])
        assert set(body["required"]) == {key, "next_since", "has_more"}, path


def test_checker_refuses_what_the_document_does_not_describe(doc):
    c = Checker()
    c.load(doc)
    rid = [("X-Request-Id", "r1"), ("Content-Type", "application/json")]
    ok = Resp(200, rid, b'{"status":"ok"}')
    c.check("GET", "/healthz", ok)
    bad = [
        ("GET", "/me", Resp(500, rid, b'{"detail":"boom"}')),                         # status not listed
        ("GET", "/healthz", Resp(200, [("Content-Type", "application/json")], b'{"status":"ok"}')),  # no X-Request-Id
        ("GET", "/healthz", Resp(200, rid, b'{"status":"fine"}')),                    # enum
        ("GET", "/healthz", Resp(200, [("X-Request-Id", "r"), ("Content-Type", "text/plain")], b"ok")),
        ("POST", "/workspaces", Resp(201, rid, b'{"workspace_id":"x"}')),              # no Location, bad body
        ("GET", "/workspaces", Resp(200, rid, b'{"items":[],"page":1}')),              # envelope incomplete
        ("GET", "/nope", Resp(200, rid, b"{}")),                                       # not a documented path
        ("DELETE", "/workspaces", Resp(405, rid + [("Allow", "GET, DELETE")], b'{"detail":"x"}')),
        ("HEAD", "/healthz", Resp(200, rid, b"body")),
    ]
    for method, path, resp in bad:
        with pytest.raises(OpenAPIMismatch):
            c.check(method, path, resp)


def test_docs_is_swagger_ui_from_the_servers_own_files(anon):
    r = anon.get("/docs")
    assert r.status == 200 and r.header("Content-Type").startswith("text/html"), r
    html = r.text
    assert "/docs/swagger-ui-bundle.js" in html and "/docs/swagger-initializer.js" in html
    assert "http://" not in html and "https://" not in html, "no CDN"
    assert anon.get("/docs/").body == r.body
    js = anon.get("/docs/swagger-ui-bundle.js")
    assert js.status == 200 and js.header("Content-Type") == "application/javascript" and len(js.body) > 500000
    init = anon.get("/docs/swagger-initializer.js").text
    assert "persistAuthorization: true" in init and '"/openapi.json"' in init
    assert anon.get("/docs/swagger-ui.css").header("Content-Type") == "text/css"
    assert_error(anon.get("/docs/nope.js"), 404)
    assert_error(anon.get("/docs/..%2Fopenapi.json"), 404)
    assert anon.head("/docs").status == 200
