"""History pages and the conversation list (last message, unread count, order)."""

from __future__ import annotations

import pytest

from hubbub.client import ApiError
from tests.support import ServerProcess, new_user, run


def test_history_pages_newest_first(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa = await a.connect()
        ids = [(await wa.send_message(f"h{i}", to=b.user_id))["message_id"] for i in range(45)]
        conv = (await a.direct(b.user_id))["conversation_id"]
        default = await b.history(conv)
        assert [m["message_id"] for m in default] == ids[::-1][:20]  # default page is 20
        seen: list[str] = []
        before = None
        while True:
            page = await b.history(conv, before=before, limit=17)
            if not page:
                break
            seen += [m["message_id"] for m in page]
            before = page[-1]["message_id"]
        assert seen == ids[::-1]
        capped = await b.history(conv, limit=1000)  # more than the max is capped at 100
        assert len(capped) == 45
        with pytest.raises(ApiError) as e:
            await b.history(conv, before="not-an-id")
        assert e.value.code == "bad_request"
        keys = set(default[0])
        assert keys == {
            "message_id",
            "conversation_id",
            "kind",
            "sender_id",
            "body",
            "ts",
            "client_msg_id",
        }
        await wa.close()

    run(body())


def test_conversation_list_orders_by_activity_with_unread_counts(server: ServerProcess) -> None:
    async def body() -> None:
        me, b, c = [await new_user(server.url) for _ in range(3)]
        g = await c.create_group("club", [me.user_id or "", b.user_id or ""])
        wb, wc = await b.connect(), await c.connect()
        await wb.send_message("first", to=me.user_id)
        await wc.send_message("club news", conversation_id=g["conversation_id"])
        last = await wb.send_message("newest", to=me.user_id)
        convs = await me.conversations()
        assert [x["kind"] for x in convs] == ["direct", "group"]
        direct, group = convs
        assert direct["peer_id"] == b.user_id and direct["unread_count"] == 2
        assert direct["last_message"]["message_id"] == last["message_id"]
        assert group["group_id"] == g["group_id"] and group["name"] == "club"
        assert group["unread_count"] == 1
        assert (await wb.expect("message", message_id=last["message_id"]))["seq"] >= 1
        # b's own messages never count as unread for b
        b_view = await b.conversations()
        assert all(x["unread_count"] == 0 for x in b_view if x["kind"] == "direct")
        empty = await (await new_user(server.url)).conversations()
        assert empty == []
        await wb.close()
        await wc.close()

    run(body())
