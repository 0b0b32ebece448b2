"""CONTRACT §4, §8 — configs: slug pattern, uniqueness among live configs
of a workspace (409; reusable after soft delete), title 1..200, soft delete."""
import pytest

from fm import TS_RE, assert_422, assert_error, unique


@pytest.mark.parametrize("slug", ["a", "0", "a-b-c", "abc123", "a-", "9-lives", "a" * 64, "a" + "-" * 63])
def test_valid_slugs(ws, slug):
    assert ws.config(slug=slug)["slug"] == slug


@pytest.mark.parametrize("slug", ["", "-a", "A", "aB", "a_b", "a b", "a.b", "\u00e9", "a" * 65, " a", "a ", "a/b",
                                  None, 5, ["a"]])
def test_invalid_slugs_are_422(ws, slug):
    assert_422(ws.c.post(ws.path("configs"), {"slug": slug, "title": "t"}), "body", "slug")
    c = ws.config()
    assert_422(ws.c.patch(ws.path("configs", c["config_id"]), {"slug": slug}), "body", "slug")


def test_slug_unique_per_workspace(api, ws):
    c = ws.config(slug="same")
    assert_error(ws.c.post(ws.path("configs"), {"slug": "same", "title": "other"}), 409)
    # another workspace may use it
    other = api.workspace(ws.owner)
    assert other.config(slug="same")["slug"] == "same"
    # PATCH into a taken slug
    c2 = ws.config(slug="second")
    assert_error(ws.c.patch(ws.path("configs", c2["config_id"]), {"slug": "same"}), 409)
    assert ws.c.get(ws.path("configs", c2["config_id"])).json["slug"] == "second"
    # PATCH to its own slug is no conflict
    r = ws.c.patch(ws.path("configs", c["config_id"]), {"slug": "same", "title": "again"})
    assert r.status == 200, r


def test_deleted_slug_can_be_reused(ws):
    c = ws.config(slug="reuse")
    assert ws.c.delete(ws.path("configs", c["config_id"])).status == 204
    c2 = ws.config(slug="reuse")
    assert c2["config_id"] != c["config_id"]
    # and then both exist with include_deleted
    ids = ws.ids("configs", {"include_deleted": "true", "slug": "reuse"})
    assert set(ids) == {c["config_id"], c2["config_id"]}
    assert ws.ids("configs", {"slug": "reuse"}) == [c2["config_id"]]
    # a patch to a slug only a deleted config has is fine
    c3 = ws.config(slug="gone-soon")
    ws.c.delete(ws.path("configs", c3["config_id"]))
    r = ws.c.patch(ws.path("configs", c2["config_id"]), {"slug": "gone-soon"})
    assert r.status == 200, r


def test_title_lengths(ws):
    assert ws.config(title="\u00e9" * 200)["title"] == "\u00e9" * 200
    assert ws.config(title="x")["title"] == "x"
    for bad in ("", "a" * 201, "\U0001F600" * 201, None, 3):
        assert_422(ws.c.post(ws.path("configs"), {"slug": unique("s"), "title": bad}), "body", "title")


def test_required_fields(ws):
    assert_422(ws.c.post(ws.path("configs"), {"title": "t"}), "body", "slug")
    assert_422(ws.c.post(ws.path("configs"), {"slug": unique("s")}), "body", "title")
    c = ws.config()
    for f in ("slug", "title"):
        assert_422(ws.c.patch(ws.path("configs", c["config_id"]), {f: None}), "body", f)


def test_fields(ws):
    c = ws.config()
    assert c["workspace_id"] == ws.id and c["created_by_user_id"] == ws.owner.id and c["deleted_at"] is None
    assert TS_RE.match(c["updated_at"]) and TS_RE.match(c["created_at"])


def test_updated_at_moves_on_patch(ws):
    c = ws.config()
    r = ws.c.patch(ws.path("configs", c["config_id"]), {"title": "new"})
    assert r.json["updated_at"] >= c["updated_at"] and r.json["created_at"] == c["created_at"]


def test_soft_delete(ws):
    c = ws.config()
    p = ws.path("configs", c["config_id"])
    r = ws.c.delete(p)
    assert r.status == 204 and r.body == b""
    assert_error(ws.c.get(p), 404)
    assert_error(ws.c.delete(p), 404)
    assert_error(ws.c.patch(p, {"title": "x"}), 404)
    g = ws.c.get(p, params={"include_deleted": "true"})
    assert g.status == 200 and TS_RE.match(g.json["deleted_at"]), g
    assert ws.ids("configs") == []
    assert ws.ids("configs", {"include_deleted": "true"}) == [c["config_id"]]
