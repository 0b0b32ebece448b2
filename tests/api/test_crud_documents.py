"""CONTRACT §4, §8 — documents: fields, defaults, enums, byte_size, tags,
lengths, PATCH null rules, soft delete (204, hidden, include_deleted)."""
import pytest

from fm import TS_RE, assert_422, assert_error, sorted_bytes


def test_defaults_and_server_fields(ws):
    d = ws.doc(original_filename="a.pdf", byte_size=0)
    assert d["status"] == "uploaded" and d["source"] == "upload"
    assert d["tags"] == [] and d["last_run_at"] is None and d["deleted_at"] is None
    assert d["workspace_id"] == ws.id and d["uploaded_by_user_id"] == ws.owner.id
    assert d["byte_size"] == 0
    assert TS_RE.match(d["created_at"])
    assert set(d) >= {"document_id", "workspace_id", "original_filename", "byte_size", "status", "source",
                      "uploaded_by_user_id", "tags", "created_at", "last_run_at", "deleted_at", "vector_clock"}


@pytest.mark.parametrize("status", ["uploaded", "queued", "processing", "processed", "failed"])
def test_status_values(ws, status):
    assert ws.doc(status=status)["status"] == status


@pytest.mark.parametrize("source", ["upload", "email", "api", "import"])
def test_source_values(ws, source):
    assert ws.doc(source=source)["source"] == source


@pytest.mark.parametrize("field,value", [("status", "bogus"), ("status", "Uploaded"), ("status", ""), ("status", 1),
                                         ("source", "fax"), ("source", "UPLOAD"), ("source", None),
                                         ("status", None)])
def test_bad_enum_is_422(ws, field, value):
    r = ws.c.post(ws.path("documents"), {"original_filename": "a", "byte_size": 1, field: value})
    assert_422(r, "body", field)
    d = ws.doc()
    assert_422(ws.c.patch(ws.path("documents", d["document_id"]), {field: value}), "body", field)


@pytest.mark.parametrize("value", [-1, -(2 ** 31), 1.5, "abc", None, [], {}])
def test_bad_byte_size_is_422(ws, value):
    r = ws.c.post(ws.path("documents"), {"original_filename": "a", "byte_size": value})
    assert_422(r, "body", "byte_size")


def test_byte_size_large_round_trips(ws):
    for v in (2 ** 31, 2 ** 42, 2 ** 53 - 1):
        d = ws.doc(byte_size=v)
        assert d["byte_size"] == v
        assert ws.c.get(ws.path("documents", d["document_id"])).json["byte_size"] == v


def test_required_fields(ws):
    assert_422(ws.c.post(ws.path("documents"), {"byte_size": 1}), "body", "original_filename")
    assert_422(ws.c.post(ws.path("documents"), {"original_filename": "a"}), "body", "byte_size")


def test_original_filename_lengths(ws):
    assert ws.doc(original_filename="\u00e9" * 255)["original_filename"] == "\u00e9" * 255
    assert ws.doc(original_filename="\U0001F4C4" * 255)["original_filename"] == "\U0001F4C4" * 255
    assert ws.doc(original_filename="x")["original_filename"] == "x"
    for bad in ("", "a" * 256, "\u00e9" * 256):
        assert_422(ws.c.post(ws.path("documents"), {"original_filename": bad, "byte_size": 1}), "body",
                   "original_filename")


def test_tags_deduplicated_and_byte_ordered(ws):
    tags = ["b", "a", "B", "\u00e9", "a", "Z", "_", "b", "10", "9"]
    d = ws.doc(tags=tags)
    assert d["tags"] == sorted_bytes(set(tags)) == ["10", "9", "B", "Z", "_", "a", "b", "\u00e9"]
    assert ws.c.get(ws.path("documents", d["document_id"])).json["tags"] == d["tags"]


def test_tags_case_sensitive(ws):
    assert ws.doc(tags=["Tag", "tag", "TAG"])["tags"] == ["TAG", "Tag", "tag"]


def test_tags_limits(ws):
    t32 = ["t%02d" % i for i in range(32)]
    assert ws.doc(tags=t32)["tags"] == sorted(t32)
    # 33 given, 32 after de-duplication: fine
    assert ws.doc(tags=t32 + ["t00"])["tags"] == sorted(t32)
    assert_422(ws.c.post(ws.path("documents"), {"original_filename": "a", "byte_size": 1,
                                                "tags": t32 + ["t99"]}), "body", "tags")
    assert ws.doc(tags=["\u00e9" * 64])["tags"] == ["\u00e9" * 64]
    assert ws.doc(tags=["x" * 64])["tags"] == ["x" * 64]
    for bad in (["x" * 65], ["\u00e9" * 65], [""], ["ok", ""], [1], [None], "tag", {"a": 1}, None, [["a"]]):
        assert_422(ws.c.post(ws.path("documents"), {"original_filename": "a", "byte_size": 1, "tags": bad}),
                   "body", "tags")


def test_tags_patch_replaces(ws):
    d = ws.doc(tags=["a", "b"])
    r = ws.c.patch(ws.path("documents", d["document_id"]), {"tags": ["c", "a", "c"]})
    assert r.status == 200 and r.json["tags"] == ["a", "c"], r
    r = ws.c.patch(ws.path("documents", d["document_id"]), {"tags": []})
    assert r.status == 200 and r.json["tags"] == []
    assert_422(ws.c.patch(ws.path("documents", d["document_id"]), {"tags": None}), "body", "tags")
    # unrelated patch keeps tags
    ws.c.patch(ws.path("documents", d["document_id"]), {"tags": ["k"]})
    r = ws.c.patch(ws.path("documents", d["document_id"]), {"byte_size": 5})
    assert r.json["tags"] == ["k"]


@pytest.mark.parametrize("field", ["original_filename", "byte_size", "status", "source", "tags"])
def test_null_on_required_field_in_patch_is_422(ws, field):
    d = ws.doc()
    assert_422(ws.c.patch(ws.path("documents", d["document_id"]), {field: None}), "body", field)
    assert ws.c.get(ws.path("documents", d["document_id"])).json == d


def test_last_run_at_set_and_cleared(ws):
    d = ws.doc(last_run_at="2025-03-01T09:30:00Z")
    assert d["last_run_at"] == "2025-03-01T09:30:00.000000Z"
    r = ws.c.patch(ws.path("documents", d["document_id"]), {"last_run_at": None})
    assert r.status == 200 and r.json["last_run_at"] is None
    r = ws.c.patch(ws.path("documents", d["document_id"]), {"last_run_at": "2025-03-02"})
    assert r.json["last_run_at"] == "2025-03-02T00:00:00.000000Z"


def test_patch_several_fields(ws):
    d = ws.doc()
    r = ws.c.patch(ws.path("documents", d["document_id"]),
                   {"status": "processed", "source": "email", "byte_size": 99, "original_filename": "n.txt"})
    assert r.status == 200, r
    o = r.json
    assert (o["status"], o["source"], o["byte_size"], o["original_filename"]) == ("processed", "email", 99, "n.txt")


def test_patch_is_atomic_on_validation_error(ws):
    d = ws.doc()
    r = ws.c.patch(ws.path("documents", d["document_id"]), {"byte_size": 50, "status": "bogus"})
    assert_422(r, "body", "status")
    assert ws.c.get(ws.path("documents", d["document_id"])).json == d


# ---- soft delete ------------------------------------------------------------------


def test_soft_delete(ws):
    keep = ws.doc(original_filename="keep")
    d = ws.doc(original_filename="gone")
    p = ws.path("documents", d["document_id"])
    r = ws.c.delete(p)
    assert r.status == 204 and r.body == b"", r
    assert_error(ws.c.get(p), 404)
    assert_error(ws.c.patch(p, {"byte_size": 2}), 404)
    assert_error(ws.c.delete(p), 404)
    g = ws.c.get(p, params={"include_deleted": "true"})
    assert g.status == 200, g
    assert TS_RE.match(g.json["deleted_at"]), g.json
    assert g.json["original_filename"] == "gone"
    assert g.json["vector_clock"] == {"test-a": 2}
    assert ws.ids("documents") == [keep["document_id"]]
    assert set(ws.ids("documents", {"include_deleted": "true"})) == {keep["document_id"], d["document_id"]}
    assert ws.ids("documents", {"include_deleted": "false"}) == [keep["document_id"]]
    assert ws.list("documents", {"include_total": "1"})["total"] == 1
    assert ws.list("documents", {"include_total": "1", "include_deleted": "1"})["total"] == 2
    assert_error(ws.c.get(p, params={"include_deleted": "false"}), 404)


def test_delete_unknown_is_404(ws):
    assert_error(ws.c.delete(ws.path("documents", "00000000-0000-7000-8000-000000000000")), 404)
