"""Workspace members (CONTRACT.md §9 "Members"): list, add, remove, and what
a removal does to lists, items and change feeds (a write to the workspace,
a tombstone in the removed member's feed of workspaces)."""
import pytest

NODE = "test-a"


def test_list_add_remove(api, ws):
    alice, bob = api.user(), api.user()
    path = "/workspaces/%s/members" % ws.id
    assert ws.c.post(path, {"user_id": alice.id}).status == 201
    assert ws.c.post(path, {"user_id": bob.id}).status == 201
    r = ws.c.get(path)
    assert r.status == 200
    items = r.json["items"]
    assert [m["user_id"] for m in items] == [ws.owner.id, alice.id, bob.id]
    assert set(items[1]) == {"user_id", "email", "display_name", "added_at"}
    assert items[1]["email"] == alice.email
    # a member removes another; a member removes itself
    clock = ws.c.get("/workspaces/%s" % ws.id).json["vector_clock"]
    assert alice.c.delete("%s/%s" % (path, bob.id)).status == 204
    after = ws.c.get("/workspaces/%s" % ws.id).json["vector_clock"]
    assert after[NODE] == clock[NODE] + 1  # a write to the workspace
    assert alice.c.delete("%s/%s" % (path, alice.id)).status == 204
    assert [m["user_id"] for m in ws.c.get(path).json["items"]] == [ws.owner.id]
    # gone means gone: 404 for the workspace and its rows, and no second removal
    assert alice.c.get("/workspaces/%s" % ws.id).status == 404
    assert alice.c.get(ws.path("documents")).status == 404
    assert ws.c.delete("%s/%s" % (path, alice.id)).status == 404
    # the last member cannot be removed
    r = ws.c.delete("%s/%s" % (path, ws.owner.id))
    assert r.status == 409 and "last member" in r.json["detail"]
    # added again: the same membership, live again
    assert ws.c.post(path, {"user_id": bob.id}).status == 201
    assert bob.c.get("/workspaces/%s" % ws.id).status == 200
    # strangers see nothing
    stranger = api.user()
    assert stranger.c.get(path).status == 404
    assert stranger.c.delete("%s/%s" % (path, bob.id)).status == 404
    assert api.admin.delete("%s/%s" % (path, bob.id)).status == 204  # admins may too


def test_removed_member_gets_a_tombstone_in_the_workspaces_feed(api, ws):
    carol = api.user()
    path = "/workspaces/%s/members" % ws.id
    ws.c.post(path, {"user_id": carol.id})
    own = api.workspace(owner=carol)
    page = carol.c.get("/workspaces").json
    assert {w["workspace_id"] for w in page["items"]} == {ws.id, own.id}
    sync = page["sync_token"]
    ws.c.patch("/workspaces/%s" % ws.id, {"name": "renamed"})
    ws.c.delete("%s/%s" % (path, carol.id))
    ws.c.patch("/workspaces/%s" % ws.id, {"name": "renamed again"})  # after the removal: not carol's business
    feed = carol.c.get("/workspaces/changes", params={"since": sync}).json
    assert feed["items"] == [{"workspace_id": ws.id, "deleted": True}]
    # added back: the workspace again, in full
    ws.c.post(path, {"user_id": carol.id})
    feed2 = carol.c.get("/workspaces/changes", params={"since": feed["next_since"]}).json
    assert [(w["workspace_id"], w["deleted"], w.get("name")) for w in feed2["items"]] == [
        (ws.id, False, "renamed again")]


def test_members_endpoints_take_no_query(ws):
    assert ws.c.get("/workspaces/%s/members" % ws.id, params={"x": "1"}).status == 422
