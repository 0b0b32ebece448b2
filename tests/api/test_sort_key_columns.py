"""A list page reads each sort key from its rendered column (only a key
that is not rendered, users.email_canonical, is selected again as
fm_s<k>): cursor walks over every declared sort of every collection, in
both directions and combined, must equal the full sort; so must walks with
include_total, walks whose next page is empty (the empty-page form), and
walks of the v1 test sessions."""
import pytest

from fm import PK, SORTS
from test_grammar_sort import MULTI, data_of, datasets, expected_order  # noqa: F401 (data_of, datasets: fixtures)


def walk(data, spec, size, extra=None):
    params = dict(data.base, sort=spec, page_size=size)
    params.update(extra or {})
    r = data.c.get(data.path, params=params)
    assert r.status == 200, (spec, r)
    got = [it[PK[data.kind]] for it in r.json["items"]]
    while r.json["next_cursor"]:
        q = dict(cursor=r.json["next_cursor"], page_size=size)
        q.update(extra or {})
        r = data.c.get(data.path, params=q)
        assert r.status == 200, (spec, r)
        got += [it[PK[data.kind]] for it in r.json["items"]]
    return got


CASES = [(k, d + f) for k in SORTS for f in SORTS[k] for d in ("", "-")] + [(k, s) for k in MULTI for s in MULTI[k]]


@pytest.mark.parametrize("kind,spec", CASES, ids=["%s:%s" % c for c in CASES])
def test_cursor_walk_equals_full_sort(data_of, kind, spec):
    data = data_of(kind)
    want = data.expected(spec)
    for size in (1, 2, 3):
        assert walk(data, spec, size) == want, (spec, size)
    assert walk(data, spec, 2, {"include_total": "true"}) == want, spec


@pytest.mark.parametrize("spec", ["last_run_at", "-last_run_at", "-created_at", "byte_size,id", "-status"])
def test_walk_into_an_empty_page(api, spec):
    """The page after a cursor emptied by deletes: the empty-page form
    (also over the nullable-key split) answers no items and no cursor."""
    ws = api.workspace()
    docs = [ws.doc(client=api.admin, original_filename="f%d" % i, byte_size=i, status="queued",
                   last_run_at=("2024-06-0%dT00:00:00Z" % (i + 1)) if i < 3 else None) for i in range(6)]
    want = expected_order("documents", docs, spec)
    r = ws.c.get(ws.path("documents"), params={"sort": spec, "page_size": 2})
    assert r.status == 200 and [d["document_id"] for d in r.json["items"]] == want[:2]
    for i in want[2:]:
        assert ws.c.delete(ws.path("documents", i)).status in (200, 204)
    r2 = ws.c.get(ws.path("documents"), params={"cursor": r.json["next_cursor"], "page_size": 2})
    assert r2.status == 200, r2
    assert r2.json["items"] == [] and r2.json["next_cursor"] is None, spec


@pytest.mark.parametrize("spec", ["created_at", "-created_at", "id", "-id", "updated_at", "-updated_at", "status",
                                  "-status,id", "status,-created_at"])
def test_v1_sessions_walk(api, spec):
    u = api.user()
    made = [api.session(u.c, status=s) for s in ("completed", "failed", "scheduled", "failed", "completed")]
    for s in made[::2]:  # updated_at differs from created_at's order
        r = u.c.patch("/v1/tests/sessions/%s" % s["id"], {"notes": "x"})
        assert r.status == 200, r
        s.update(r.json)

    def value(it, f):
        return it[f]

    keys = []
    for part in spec.split(","):
        keys.append((part.lstrip("-"), part.startswith("-")))
    if "id" not in [k for k, _ in keys]:
        keys.append(("id", keys[0][1]))
    want = list(made)
    for f, desc in reversed(keys):
        want.sort(key=lambda it: value(it, f), reverse=desc)
    want = [s["id"] for s in want]
    for size in (1, 2):
        r = u.c.get("/v1/tests/sessions", params={"sort": spec, "limit": size})
        assert r.status == 200, r
        got = [s["id"] for s in r.json["data"]]
        while r.json["next_cursor"]:
            r = u.c.get("/v1/tests/sessions", params={"cursor": r.json["next_cursor"], "limit": size})
            assert r.status == 200, r
            got += [s["id"] for s in r.json["data"]]
        assert got == want, (spec, size)


@pytest.mark.parametrize("spec", ["email", "-email", "display_name,email", "-last_login_at,-email"])
def test_users_hidden_key_empty_page_and_cursor(data_of, spec):
    """A key that is not rendered (email_canonical as fm_s0..): a page past
    the end (the empty-page form orders by p.fm_s<k>) and a page after a
    cursor, with and without include_total."""
    data = data_of("users")
    want = data.expected(spec)
    for extra in ({}, {"include_total": "true"}):
        r = data.c.get(data.path, params=dict(data.base, sort=spec, page_size=5, page=3, **extra))
        assert r.status == 200, r
        assert r.json["items"] == [] and r.json["next_cursor"] is None
        if extra:
            assert r.json["total"] == len(want)
        assert walk(data, spec, 2, extra) == want, spec
