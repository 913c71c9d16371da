"""Profile pictures over the wire, against a real server and its real media store: set
from one's own image upload, seen (and fetched) by anyone, removed; refused for what is
not an image or not one's own (the answer reveals nothing); a private attachment never
becomes public by someone else naming it; the `avatar` field in every user object; the
`profile` frame to the user's own devices and to those who have them as a contact."""

from __future__ import annotations

import os

import pytest

from hubbub.client import ApiError, HubbubClient
from tests.integration.test_media import jpeg
from tests.support import ServerProcess, another_device, new_user, run

pytestmark = pytest.mark.timeout(120)


async def _refused(awaitable: object) -> ApiError:
    with pytest.raises(ApiError) as e:
        await awaitable  # type: ignore[misc]
    return e.value


async def _photo(api: HubbubClient, color: int = 90) -> str:
    up = await api.upload(jpeg(200, 120, color=color), content_type="image/jpeg")
    return str(up["media_id"])


def test_a_picture_is_set_seen_by_a_stranger_and_removed(server: ServerProcess) -> None:
    async def body() -> None:
        ann, bob = await new_user(server.url), await new_user(server.url)
        ann_id = ann.user_id or ""
        assert (await ann.me())["avatar"] is None
        assert (await bob.request("GET", f"/v1/users/{ann_id}"))["avatar"] is None
        await bob.add_contact(ann_id)
        ann_phone = await another_device(ann, "phone")
        phone_ws, bob_ws = await ann_phone.connect(), await bob.connect()

        media_id = await _photo(ann)
        me = await ann.set_avatar(media_id)
        assert me == {"user_id": ann_id, "username": ann.username,  # type: ignore[attr-defined]
                      "display_name": ann.username, "avatar": media_id}  # type: ignore[attr-defined]  # fmt: skip
        # her other device and her contact hear it at once, as the user object
        for ws in (phone_ws, bob_ws):
            frame = await ws.expect("profile", user_id=ann_id)
            assert frame["avatar"] == media_id and frame["display_name"] == me["display_name"]

        # every user object carries it: me, one user, by name, batch, search, contacts
        assert (await ann.me())["avatar"] == media_id
        assert (await bob.request("GET", f"/v1/users/{ann_id}"))["avatar"] == media_id
        assert (await bob.find_user(ann.username))["avatar"] == media_id  # type: ignore[attr-defined]
        batch = await bob.request("GET", f"/v1/users/batch?ids={ann_id},{bob.user_id}")
        assert [u["avatar"] for u in batch["users"]] == [media_id, None]
        found = await bob.request("GET", "/v1/users/search", params={"q": ann.username})  # type: ignore[attr-defined]
        assert [u["avatar"] for u in found["users"]] == [media_id]
        assert [c["avatar"] for c in await bob.contacts()] == [media_id]

        # bob shares no conversation with ann, yet may fetch it, full and thumbnail,
        # with the media route's validators (a media id's bytes never change)
        thumb = await bob.download(media_id, thumbnail=True)
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert "immutable" in thumb.headers["cache-control"]
        assert "private" in thumb.headers["cache-control"]
        etag = thumb.headers["etag"]
        validators = {"Authorization": f"Bearer {bob.token}", "If-None-Match": etag}
        again = await bob._http.get(f"/v1/media/{media_id}/thumbnail", headers=validators)
        assert again.status_code == 304
        assert (await bob.download(media_id)).status_code == 200

        # removed: null, told again; bob's access goes with it, ann keeps her upload
        assert (await ann.set_avatar(None))["avatar"] is None
        for ws in (phone_ws, bob_ws):
            assert (await ws.expect("profile", user_id=ann_id))["avatar"] is None
        assert (await bob.request("GET", f"/v1/users/{ann_id}"))["avatar"] is None
        gone = await _refused(bob.download(media_id, thumbnail=True))
        assert gone.status == 404
        assert (await ann.download(media_id, thumbnail=True)).status_code == 200
        await phone_ws.close()
        await bob_ws.close()

    run(body())


def test_only_ones_own_images_can_be_a_picture(server: ServerProcess) -> None:
    async def body() -> None:
        ann, bob = await new_user(server.url), await new_user(server.url)
        mine = await _photo(ann)
        await ann.set_avatar(mine)
        pdf = await ann.upload(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
        noise = await ann.upload(os.urandom(2000), filename="x.bin")  # a file, not an image
        assert (await _refused(ann.set_avatar(str(noise["media_id"])))).status == 415

        not_image = await _refused(ann.set_avatar(str(pdf["media_id"])))
        assert (not_image.status, not_image.code) == (415, "unsupported_media")
        assert (await ann.me())["avatar"] == mine  # nothing changed

        # bob's photo and an id that exists nowhere: the same 404, word for word
        bobs = await _photo(bob, color=30)
        theirs = await _refused(ann.set_avatar(bobs))
        unknown = await _refused(ann.set_avatar("4242424242424242"))
        assert (theirs.status, theirs.code, theirs.message) == (
            unknown.status, unknown.code, unknown.message,
        ) == (404, "not_found", unknown.message)  # fmt: skip
        # bob's non-image: still 404 (not 415), or the answer would say what it is
        bobs_pdf = await bob.upload(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
        assert (await _refused(ann.set_avatar(str(bobs_pdf["media_id"])))).status == 404
        bad = await _refused(ann.set_avatar("not-an-id"))
        assert (bad.status, bad.code) == (400, "bad_request")

        # a refused picture in one request with a new name stores neither
        refused = await _refused(
            ann.request("PATCH", "/v1/me", json={"display_name": "Renamed", "avatar": bobs})
        )
        assert refused.status == 404
        me = await ann.me()
        assert (me["display_name"], me["avatar"]) == (ann.username, mine)  # type: ignore[attr-defined]
        # a PATCH without the key leaves the picture as it is
        assert (await ann.request("PATCH", "/v1/me", json={"display_name": "Ann"}))[
            "avatar"
        ] == mine
        assert (await bob.request("GET", f"/v1/users/{ann.user_id}"))["avatar"] == mine

    run(body())


def test_a_private_attachment_does_not_become_public(server: ServerProcess) -> None:
    async def body() -> None:
        ann, bob, eve = [await new_user(server.url) for _ in range(3)]
        photo = jpeg(160, 90, color=200)
        private = await _photo_of(ann, photo)
        cid = (await ann.direct(bob.user_id or ""))["conversation_id"]
        await ann.post_message(cid, "just for you", attachments=[private])
        assert (await bob.download(private)).status_code == 200  # a member sees it
        assert (await _refused(eve.download(private))).status == 404

        # neither the recipient nor a stranger can make it their picture
        for who in (bob, eve):
            assert (await _refused(who.set_avatar(private))).status == 404
        assert (await _refused(eve.download(private, thumbnail=True))).status == 404

        # the same bytes uploaded by eve are her own upload, under her own media id: her
        # picture makes that id public, never ann's
        copy = await _photo_of(eve, photo)
        assert copy != private
        assert (await eve.set_avatar(copy))["avatar"] == copy
        assert (await bob.download(copy, thumbnail=True)).status_code == 200
        assert (await _refused(eve.download(private))).status == 404

        # ann may make her own photo her picture; once it is no longer, the usual rules
        # hold again: eve loses it, bob (a member of the chat it was sent in) keeps it
        await ann.set_avatar(private)
        assert (await eve.download(private, thumbnail=True)).status_code == 200
        await ann.set_avatar(await _photo(ann, color=10))  # another picture replaces it
        assert (await _refused(eve.download(private, thumbnail=True))).status == 404
        assert (await bob.download(private, thumbnail=True)).status_code == 200

    run(body())


async def _photo_of(api: HubbubClient, data: bytes) -> str:
    return str((await api.upload(data, content_type="image/jpeg"))["media_id"])
