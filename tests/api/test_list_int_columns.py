"""Issue 9 -- a list page on SQLite reads its timestamps and booleans, its
count (include_total) and its identity check (the hint's fm_auth) as integers
only, without their text (store_exec_ints; crud.c list_int_only); a sort
key's column is read in full, since its text goes into the cursor.  So: every
entry of a list is its item as GET renders it, byte for byte (key order and
values), under every sort (nullable keys with NULLs, the hidden
email_canonical of sort=email), with include_total, on page=N and past the
end (the empty-page form), and on the identity hint."""
import json
import re

from fm import assert_error, unique

TIMES = [None, "0001-01-01T00:00:00.000000Z", "1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00.000000Z",
         "2025-03-01T09:30:00.000001Z", "2025-03-17T09:30:00.000000Z", "9999-12-31T23:59:59.999999Z"]
USER_SORTS = [None, "last_login_at", "-last_login_at", "email", "-email", "created_at", "-updated_at",
              "display_name,last_login_at", "-last_login_at,-email", "id"]
DOC_SORTS = [None, "last_run_at", "-last_run_at", "-byte_size", "status,-last_run_at", "original_filename", "id"]


def pairs(body):
    """The answer with every object as its list of (key, value) pairs, in order."""
    return dict(json.loads(body.decode("utf-8"), object_pairs_hook=lambda p: p))


def item_pairs(client, path):
    r = client.get(path)
    assert r.status == 200, (path, r)
    return json.loads(r.body.decode("utf-8"), object_pairs_hook=lambda p: p)


def walk(client, path, params, size):
    """Every page of the walk: [(answer as pairs, status)]."""
    q = dict(params, page_size=size)
    pages = []
    while True:
        r = client.get(path, params=q)
        assert r.status == 200, (path, q, r)
        pages.append(pairs(r.body))
        cur = pages[-1]["next_cursor"]
        if not cur:
            return pages
        q = {"cursor": cur, "page_size": size}
        if "include_total" in params:
            q["include_total"] = params["include_total"]


def check_walks(client, path, item_path, pk, want_ids, sorts, extra=None):
    items = {i: item_pairs(client, item_path % i) for i in want_ids}
    for spec in sorts:
        for size in (1, 2, 5):
            for total in (False, True):
                params = dict(extra or {})
                if spec:
                    params["sort"] = spec
                if total:
                    params["include_total"] = "true"
                pages = walk(client, path, params, size)
                got = [dict(it)[pk] for p in pages for it in p["items"]]
                assert sorted(got) == sorted(want_ids), (spec, size, total)
                for p in pages:
                    for it in p["items"]:
                        assert it == items[dict(it)[pk]], (spec, size, total, it)
                    if total:
                        assert p["total"] == len(want_ids), (spec, size)
                    else:
                        assert "total" not in p


def test_user_entries_are_their_items_under_every_sort(api):
    tag = unique("intcol")
    ids = []
    for k, t in enumerate(TIMES):
        body = {"email": "%s-%d@Int.example" % (tag if k % 2 else tag.upper(), k), "display_name": "n%d" % (k % 3),
                "is_active": k % 2 == 0, "is_admin": k % 3 == 0, "is_service_account": k % 4 == 1}
        if t is not None:
            body["last_login_at"] = t
        r = api.admin.post("/users", body)
        assert r.status == 201, r
        ids.append(r.json["user_id"])
    # one more with no last login, so that NULLs are several
    r = api.admin.post("/users", {"email": "%s-x@int.example" % tag, "is_active": False})
    assert r.status == 201, r
    ids.append(r.json["user_id"])
    check_walks(api.admin, "/users", "/users/%s", "user_id", ids, USER_SORTS, {"q": tag})
    # the boolean filters read the same booleans
    for flag in ("is_active", "is_service_account"):
        for v in (True, False):
            got = api.admin.list_ids("/users", "user_id", {"q": tag, flag: "true" if v else "false"})
            want = [i for i in ids if dict(item_pairs(api.admin, "/users/%s" % i))[flag] is v]
            assert sorted(got) == sorted(want), (flag, v)
    for v in (True, False):
        got = api.admin.list_ids("/users", "user_id", {"q": tag, "last_login_at_is_null": "true" if v else "false",
                                                         "sort": "-last_login_at"})
        want = [i for i in ids if (dict(item_pairs(api.admin, "/users/%s" % i))["last_login_at"] is None) is v]
        assert sorted(got) == sorted(want), v


def test_document_entries_are_their_items_under_every_sort(api, ws):
    ids = []
    for k, t in enumerate(TIMES):
        body = {"original_filename": "f%d.txt" % (k % 3), "byte_size": [0, 1, 2 ** 53, 7, 10 ** 12, 3, 0][k],
                "tags": ["a", "b"][: k % 3]}
        if t is not None:
            body["last_run_at"] = t
        ids.append(ws.doc(**body)["document_id"])
    check_walks(ws.c, ws.path("documents"), ws.path("documents") + "/%s", "document_id", ids, DOC_SORTS)


def test_pages_and_past_the_end_with_a_total(api, ws):
    for k in range(5):
        ws.doc(byte_size=k, last_run_at=TIMES[k % len(TIMES)])
    for spec in ("-created_at", "last_run_at", "-byte_size"):
        for page in (1, 2, 3, 4, 9):
            r = ws.c.get(ws.path("documents"), params={"sort": spec, "page": page, "page_size": 2,
                                                        "include_total": "true"})
            assert r.status == 200, r
            a = r.json
            assert a["total"] == 5
            assert len(a["items"]) == max(0, min(2, 5 - 2 * (page - 1)))
            assert a["has_next"] is (page * 2 < 5), (spec, page)
    # an empty workspace: the empty-page form alone, with and without the count
    other = api.workspace()
    for extra in ({}, {"include_total": "true"}):
        a = other.c.get(other.path("documents"), params=dict(extra, sort="last_run_at")).json
        assert a["items"] == [] and a["next_cursor"] is None
        assert a.get("total", 0) == 0


def hints(api):
    text = api.admin.get("/metrics").body.decode()
    got = dict(re.findall(r'firemode_auth_hints_total\{outcome="(\w+)"\} (\d+)', text))
    return int(got.get("confirmed", 0)), int(got.get("refused", 0))


def test_the_hint_with_a_total_confirms_and_refuses(spawn):
    """With include_total the statement's identity check is its third column
    (fm_pos, fm_n, fm_auth): both are read as integers.  Hints are kept per
    worker, so this server has one: every list then meets the hint its
    previous one left (with several, the request after the change could land
    on a worker that never saw this user, and nothing would be refused)."""
    from conftest import Api
    api = Api(spawn(threads=1))
    u = api.user()
    ws = api.workspace(u)
    for k in range(3):
        ws.doc(byte_size=k)
    c0, _ = hints(api)
    for _ in range(24):
        r = u.c.get(ws.path("documents"), params={"include_total": "true", "page_size": 2, "sort": "last_run_at"})
        assert r.status == 200, r
        assert r.json["total"] == 3 and len(r.json["items"]) == 2 and r.json["has_next"] is True
    c1, _ = hints(api)
    assert c1 - c0 >= 12
    # deactivated: refused on the hint (fm_auth false), then in full
    assert api.admin.patch("/users/%s" % u.id, {"is_active": False}).status == 200
    _, r0 = hints(api)
    for _ in range(24):
        assert_error(u.c.get(ws.path("documents"), params={"include_total": "true"}), 403)
    _, r1 = hints(api)
    assert r1 > r0
