"""CONTRACT §3, §4, §8 — query parameters of every collection: the allowed
names (filters exactly as §4 lists them, plus <field>_is_null for every
nullable field), unknown keys → 422 naming the allowed ones, a scalar
given twice → 422, empty values → 422 except sort, list params (CSV,
repeated, empty items), booleans, the 422 shape."""
import pytest

from fm import COMMON_PARAMS, FILTERS, assert_422, filter_sample

KINDS = ["users", "workspaces", "documents", "jobs", "configs"]


class Coll:
    def __init__(self, kind, client, path):
        self.kind = kind
        self.c = client
        self.path = path

    def get(self, params=None, raw=None):
        if raw is not None:
            return self.c.request("GET", self.path + "?" + raw)
        return self.c.get(self.path, params=params)


def make_coll(api, kind):
    if kind == "users":
        return Coll(kind, api.admin, "/users")
    if kind == "workspaces":
        return Coll(kind, api.user().c, "/workspaces")
    ws = api.workspace()
    return Coll(kind, ws.c, ws.path(kind))


@pytest.fixture(scope="module")
def colls(api):
    return {k: make_coll(api, k) for k in KINDS}


@pytest.fixture(params=KINDS)
def coll(request, colls):
    return colls[request.param]


def allowed(kind):
    return COMMON_PARAMS + FILTERS[kind]


def test_no_params_is_fine(coll):
    r = coll.get()
    assert r.status == 200, r
    body = r.json
    for k in ("items", "page", "page_size", "has_previous", "has_next"):
        assert k in body, (k, body)
    assert "total" not in body
    assert body["page"] == 1 and body["page_size"] == 25 and body["has_previous"] is False


@pytest.mark.parametrize("kind,param", [(k, p) for k in KINDS for p in FILTERS[k]])
def test_every_listed_filter_is_accepted(colls, kind, param):
    c = colls[kind]
    r = c.get({param: filter_sample(kind, param)})
    assert r.status == 200, (param, r)


def test_unknown_key_is_422_naming_allowed(coll):
    r = coll.get({"bogus_param": "1"})
    d = assert_422_shape_any(r)
    text = str(d)
    assert "bogus_param" in text, text
    for name in allowed(coll.kind):
        assert name in text, (name, text)


def assert_422_shape_any(r):
    assert r.status == 422, r
    d = r.json["detail"]
    if isinstance(d, list):
        assert_422(r, "query")
    else:
        assert isinstance(d, str) and d
    return d


OTHERS = {
    "users": ["status_in", "include_deleted", "name", "slug", "tag_in", "deleted_at_is_null", "is_admin", "email",
              "last_login_at_from", "display_name"],
    "workspaces": ["name", "is_active", "include_deleted", "created_at_from", "created_by_user_id", "status_in"],
    "documents": ["slug", "title", "status", "source", "tag", "tags", "deleted_at_is_null", "byte_size",
                  "last_run_at_from", "config_id", "original_filename", "workspace_id", "created_at",
                  "byte_size_is_null", "status_is_null", "tags_in"],
    "jobs": ["status", "include_deleted", "q", "queued_at_from", "started_at_from", "job_id", "config_id_in",
             "queued_at_is_null", "status_is_null", "deleted_at_is_null", "tag_in"],
    "configs": ["q", "status_in", "slug_in", "title_is_null", "deleted_at_is_null", "updated_at_from",
                "created_by", "slug_is_null"],
}


@pytest.mark.parametrize("kind,param", [(k, p) for k in KINDS for p in OTHERS[k]])
def test_filters_not_listed_for_collection_are_422(colls, kind, param):
    r = colls[kind].get({param: "x"})
    assert r.status == 422, (kind, param, r)


@pytest.mark.parametrize("param", ["cursor", "limit", "offset", "since", "PAGE", "Sort", "page_size ",
                                   "include_total[]"])
def test_unknown_or_miscased_keys(colls, param):
    r = colls["documents"].get(raw="%s=1" % param.replace(" ", "%20").replace("[", "%5B").replace("]", "%5D"))
    if param == "cursor":
        # cursors belong to a later milestone: a bogus one must still never be a 2xx/5xx
        assert r.status == 422, r
        return
    assert r.status == 422, (param, r)


def scalar_params(kind):
    return [p for p in allowed(kind) if not p.endswith("_in")]


def sample(kind, p):
    return {"page": "1", "page_size": "10", "include_total": "true", "sort": "id"}.get(p) or filter_sample(kind, p)


@pytest.mark.parametrize("kind,param", [(k, p) for k in KINDS for p in scalar_params(k)])
def test_scalar_twice_is_422(colls, kind, param):
    v = sample(kind, param)
    r = colls[kind].get([(param, v), (param, v)])
    assert r.status == 422, (param, r)


@pytest.mark.parametrize("kind,param", [(k, p) for k in KINDS for p in allowed(k) if p != "sort"])
def test_empty_value_is_422(colls, kind, param):
    r = colls[kind].get(raw="%s=" % param)
    assert r.status == 422, (param, r)
    r = colls[kind].get(raw="%s" % param)
    assert r.status == 422, (param + " (no '=')", r)


def test_empty_sort_is_default(colls):
    c = colls["documents"]
    assert c.get(raw="sort=").status == 200
    assert c.get(raw="sort").status == 200


@pytest.mark.parametrize("kind,param", [(k, p) for k in KINDS for p in allowed(k) if p.endswith("_in")])
def test_list_with_only_empty_items_is_422(colls, kind, param):
    for raw in ("%s=,,", "%s=,", "%s=%%2C%%2C"):
        r = colls[kind].get(raw=raw % param)
        assert r.status == 422, (raw % param, r)


@pytest.mark.parametrize("value", ["true", "false", "1", "0", "yes", "no", "on", "off", "TRUE", "False", "YeS",
                                   "oFF", "On", "NO"])
def test_include_total_spellings(coll, value):
    r = coll.get({"include_total": value})
    assert r.status == 200, r
    truthy = value.lower() in ("true", "1", "yes", "on")
    assert ("total" in r.json) == truthy, (value, r.json)


@pytest.mark.parametrize("value", ["2", "y", "n", "t", "f", "truee", "nope", "-1", "true,false", " true"])
def test_include_total_bad_values(coll, value):
    r = coll.get({"include_total": value})
    assert_422(r, "query", "include_total")


@pytest.mark.parametrize("param", ["include_deleted", "last_run_at_is_null"])
@pytest.mark.parametrize("value", ["maybe", "2", "tru"])
def test_bad_bool_filters_are_422(colls, param, value):
    assert_422(colls["documents"].get({param: value}), "query", param)


@pytest.mark.parametrize("param,value", [("uploaded_by_user_id", "nope"), ("uploaded_by_user_id", "1234"),
                                         ("status_in", "bogus"), ("status_in", "uploaded,bogus"),
                                         ("source_in", "fax"), ("status_in", "UPLOADED")])
def test_bad_filter_values_on_documents(colls, param, value):
    assert_422(colls["documents"].get({param: value}), "query", param)


@pytest.mark.parametrize("param,value", [("config_id", "x"), ("submitted_by_user_id", "x"), ("retry_of_job_id", "1"),
                                         ("status_in", "done"), ("trace_id", "t" * 129),
                                         ("config_version_id", "v" * 129), ("status_in", "queued,,nope")])
def test_bad_filter_values_on_jobs(colls, param, value):
    assert_422(colls["jobs"].get({param: value}), "query", param)


@pytest.mark.parametrize("param,value", [("created_by_user_id", "x"), ("title", "t" * 129), ("title", "   ")])
def test_bad_filter_values_on_configs(colls, param, value):
    assert_422(colls["configs"].get({param: value}), "query", param)


@pytest.mark.parametrize("param,value", [("is_active", "maybe"), ("is_service_account", "2"),
                                         ("display_name_is_null", "x"), ("last_login_from", "soon")])
def test_bad_filter_values_on_users(colls, param, value):
    assert_422(colls["users"].get({param: value}), "query", param)


def test_422_shape_for_query(colls):
    r = colls["documents"].get({"page_size": "0"})
    d = assert_422(r, "query", "page_size")
    e = [x for x in d if x["loc"][:2] == ["query", "page_size"]][0]
    assert e["loc"] == ["query", "page_size"]
    assert set(e) >= {"loc", "msg", "type"}


def test_several_errors_reported(colls):
    r = colls["documents"].get({"page_size": "0", "page": "0"})
    d = assert_422(r, "query")
    locs = {tuple(e["loc"]) for e in d}
    assert ("query", "page_size") in locs or ("query", "page") in locs
