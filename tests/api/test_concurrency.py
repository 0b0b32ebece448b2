"""CONTRACT §2, §4, §8 — uniqueness and membership under concurrent
requests: exactly one winner, the others the documented status, never a
500 (a database constraint race must map to 409, not an error)."""
import threading

from fm import unique


def race(n, fn):
    barrier = threading.Barrier(n)
    out = [None] * n

    def run(i):
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            out[i] = e

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def statuses(results):
    st = []
    for r in results:
        assert not isinstance(r, Exception), r
        st.append(r.status)
    return sorted(st)


def test_concurrent_same_slug(ws):
    res = race(8, lambda i: ws.c.post(ws.path("configs"), {"slug": "race", "title": "t%d" % i}))
    assert statuses(res) == [201] + [409] * 7, res
    assert len(ws.ids("configs", {"slug": "race"})) == 1


def test_concurrent_same_email(api):
    local = unique("race")
    variants = [local + "@example.com", local.upper() + "@example.com", " " + local + "@EXAMPLE.com"]
    res = race(8, lambda i: api.admin.post("/users", {"email": variants[i % 3]}))
    assert statuses(res) == [201] + [409] * 7, res


def test_concurrent_add_member(api, ws):
    u = api.user()
    res = race(6, lambda i: ws.c.post(ws.base + "/members", {"user_id": u.id}))
    assert statuses(res) == [200] * 5 + [201], res
    assert u.c.get(ws.base).status == 200


def test_concurrent_patches_all_counted(ws):
    d = ws.doc()
    p = ws.path("documents", d["document_id"])
    res = race(8, lambda i: ws.c.patch(p, {"byte_size": i}))
    assert statuses(res) == [200] * 8
    final = ws.c.get(p).json
    # every write added one to this node's counter: none was lost
    assert final["vector_clock"] == {"test-a": 9}, final


def test_concurrent_creates_distinct_ids(ws):
    res = race(8, lambda i: ws.c.post(ws.path("documents"), {"original_filename": "c%d" % i, "byte_size": i}))
    assert statuses(res) == [201] * 8
    ids = {r.json["document_id"] for r in res}
    assert len(ids) == 8
    assert ws.list("documents", {"include_total": "true"})["total"] == 8
