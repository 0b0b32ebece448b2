"""The write path's checks that moved into its transaction (README "Database
round trips per request"): a write checks its workspace in the statements it
runs anyway, yet answers as if that had been checked first (404 before a 422
or a 428), and a write's round trips do not grow with its tags (SQLite counts
statements: there tags are one statement, or two to replace them)."""
import uuid

import fm

NOT_WS = "Workspace not found"


def _trips(admin, route):
    for ln in admin.get("/metrics").text.splitlines():
        if ln.startswith('firemode_db_round_trips_total{route="%s"}' % route):
            return int(float(ln.rsplit(" ", 1)[1]))
    return 0


def test_a_stranger_is_told_the_workspace_is_not_found_whatever_the_body(api, ws):
    doc = ws.c.post(ws.path("documents"), {"original_filename": "a.pdf", "byte_size": 1}).json
    item = "%s/%s" % (ws.path("documents"), doc["document_id"])
    stranger = api.user()
    good = {"original_filename": "b.pdf", "byte_size": 1, "tags": ["x"]}
    for method, path, body in [("post", ws.path("documents"), good), ("post", ws.path("documents"), {}),
                               ("post", ws.path("configs"), {"slug": "s", "title": "t"}),
                               ("post", ws.path("jobs"), {"config_id": str(uuid.uuid4())}),
                               ("patch", item, {"status": "processed"}), ("patch", item, {"byte_size": -1}),
                               ("delete", item, None),
                               ("post", "/workspaces/%s/members" % ws.id, {"user_id": stranger.id}),
                               ("post", "/workspaces/%s/members" % ws.id, {})]:
        r = getattr(stranger.c, method)(path, body) if body is not None else getattr(stranger.c, method)(path)
        assert r.status == 404 and r.json["detail"] == NOT_WS, (method, path, body, r)
    # and nothing was written
    r = ws.c.get(ws.path("documents"), {"include_total": "true"})
    assert r.json["total"] == 1 and r.json["items"][0]["status"] == doc["status"]


def test_an_admin_is_told_which_is_missing_the_workspace_or_the_item(api, ws):
    admin = api.admin
    nowhere = "/workspaces/%s" % uuid.uuid4()
    for method, path, body in [("post", nowhere + "/documents", {"original_filename": "a.pdf", "byte_size": 1}),
                               ("post", nowhere + "/documents", {}),
                               ("post", nowhere + "/jobs", {"config_id": str(uuid.uuid4())}),
                               ("patch", "%s/documents/%s" % (nowhere, uuid.uuid4()), {"status": "processed"}),
                               ("delete", "%s/documents/%s" % (nowhere, uuid.uuid4()), None),
                               ("post", nowhere + "/members", {"user_id": ws.owner.id})]:
        r = getattr(admin, method)(path, body) if body is not None else getattr(admin, method)(path)
        assert r.status == 404 and r.json["detail"] == NOT_WS, (method, path, body, r)
    r = admin.patch("%s/%s" % (ws.path("documents"), uuid.uuid4()), {"status": "processed"})
    assert r.status == 404 and r.json["detail"] == "Document not found", r
    r = admin.post(ws.path("documents"), {"original_filename": "a.pdf", "byte_size": 1, "tags": ["a", "b"]})
    assert r.status == 201 and r.json["tags"] == ["a", "b"], r


def test_tags_are_written_whatever_their_number_in_the_same_round_trips(api, ws):
    route = "/workspaces/:workspace_id/documents"
    assert ws.c.get(ws.path("documents")).status == 200  # the token's first use is recorded: not below
    counts = []
    for tags in ([], ["one"], ["t%02d" % i for i in range(20)]):
        before = _trips(api.admin, route)
        r = ws.c.post(ws.path("documents"), {"original_filename": "t.pdf", "byte_size": 1, "tags": tags})
        assert r.status == 201 and r.json["tags"] == sorted(tags), r
        counts.append(_trips(api.admin, route) - before)
        got = ws.c.get(ws.path("documents"), [("tag_in", t) for t in tags[:3]] or None)
        if tags:
            assert r.json["document_id"] in [d["document_id"] for d in got.json["items"]]
    tag_statements = 0 if fm.backend() == "postgres" else 1
    assert counts[0] + tag_statements == counts[1] == counts[2] and counts[0] > 0, counts
    # a change of tags replaces them, in the same round trips as any other change
    doc = r.json
    item = "%s/%s" % (ws.path("documents"), doc["document_id"])
    before = _trips(api.admin, route + "/:id")
    r = ws.c.patch(item, {"tags": ["new"]}, headers={"If-Match": r.header("ETag")})
    assert r.status == 200 and r.json["tags"] == ["new"], r
    with_tags = _trips(api.admin, route + "/:id") - before
    before = _trips(api.admin, route + "/:id")
    assert ws.c.patch(item, {"status": "processed"}).status == 200
    assert _trips(api.admin, route + "/:id") - before + 2 * tag_statements == with_tags
    assert ws.c.get(ws.path("documents"), {"tag_in": "t00"}).json["items"] == []  # the old ones are gone
    ids = [d["document_id"] for d in ws.c.get(ws.path("documents"), {"tag_in": "new"}).json["items"]]
    assert ids == [doc["document_id"]]
