"""Accounts, devices, tokens, settings, and REST error handling (never a 500)."""

from __future__ import annotations

import json
import sqlite3
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubbub.client import ApiError, Connection, HubbubClient
from tests.support import PASSWORD, ServerProcess, name, new_user, run


def test_sign_up_validation(server: ServerProcess) -> None:
    async def body() -> None:
        async with HubbubClient(server.url) as api:
            for username, password in (
                ("ab", PASSWORD),
                ("UPPER", PASSWORD),
                ("has space", PASSWORD),
                ("x" * 33, PASSWORD),
                (name(), "short"),
                (name(), None),
                (None, PASSWORD),
            ):
                with pytest.raises(ApiError) as e:
                    await api.request(
                        "POST", "/v1/users", json={"username": username, "password": password}
                    )
                assert e.value.status == 400 and e.value.code == "bad_request"
            user = await api.sign_up(username := name(), PASSWORD)
            assert user["display_name"] == username  # defaults to the username
            with pytest.raises(ApiError) as e:
                await api.sign_up(username, PASSWORD)
            assert e.value.status == 409 and e.value.code == "conflict"

    run(body())


def test_each_login_is_a_device_and_tokens_are_stored_hashed(server: ServerProcess) -> None:
    async def body() -> None:
        api = await new_user(server.url)
        other = HubbubClient(server.url)
        await other.log_in(api.username, PASSWORD)  # type: ignore[attr-defined]
        assert other.device_id != api.device_id and other.token != api.token
        me = await api.me()
        assert me["user_id"] == api.user_id and me["device_id"] == api.device_id
        assert me["settings"] == {
            "history_retention_days": None,
            "group_adds": "everyone",
            "push_preview": "sender",
        }
        db = sqlite3.connect(server.data_dir / "hubbub.sqlite3")
        dump = "\n".join(db.iterdump())
        db.close()
        assert api.token and api.token not in dump and PASSWORD not in dump
        assert "$argon2id$" in dump

    run(body())


def test_wrong_password_and_unknown_user_look_the_same(server: ServerProcess) -> None:
    async def body() -> None:
        api = await new_user(server.url)
        errors = []
        for username, password in ((api.username, "wrong password"), (name(), PASSWORD)):  # type: ignore[attr-defined]
            with pytest.raises(ApiError) as e:
                await HubbubClient(server.url).log_in(username, password)
            errors.append((e.value.status, e.value.code, e.value.message))
        assert errors[0] == errors[1] == (401, "unauthorized", "wrong username or password")

    run(body())


def test_logout_revokes_the_token_and_closes_only_that_device(server: ServerProcess) -> None:
    async def body() -> None:
        api = await new_user(server.url)
        other = HubbubClient(server.url)
        await other.log_in(api.username, PASSWORD)  # type: ignore[attr-defined]
        ws, ws_other = await api.connect(), await other.connect()
        await api.log_out()
        assert (await ws.expect("__closed__"))["code"] == 4002
        with pytest.raises(ApiError) as e:
            await api.me()
        assert e.value.status == 401
        with pytest.raises(ApiError) as e:
            await Connection.open(api.ws_url, api.token or "")
        assert e.value.status == 401
        assert (await other.me())["user_id"] == api.user_id  # the other device is untouched
        await ws_other.send_frame({"type": "ping"})
        assert (await ws_other.expect("pong"))["type"] == "pong"
        await ws_other.close()

    run(body())


def test_profile_and_settings(server: ServerProcess) -> None:
    async def body() -> None:
        api = await new_user(server.url)
        renamed = await api.request("PATCH", "/v1/me", json={"display_name": "Ada L."})
        assert renamed["display_name"] == "Ada L."
        assert (await api.set_retention(30)) == {"history_retention_days": 30}
        assert (await api.me())["settings"]["history_retention_days"] == 30
        assert (await api.set_retention(None)) == {"history_retention_days": None}
        for bad in (0, 3651, "7", True, 1.5):
            with pytest.raises(ApiError) as e:
                await api.set_retention(bad)  # type: ignore[arg-type]
            assert e.value.code == "bad_request", bad
        with pytest.raises(ApiError):
            await api.request("PUT", "/v1/me/settings", json={})
        found = await api.find_user(api.username)  # type: ignore[attr-defined]
        assert found == {
            "user_id": api.user_id,
            "username": api.username,  # type: ignore[attr-defined]
            "display_name": "Ada L.",
            "avatar": None,
        }
        assert await api.request("GET", f"/v1/users/{api.user_id}") == found
        with pytest.raises(ApiError) as e:
            await api.find_user("nobody-" + name())
        assert e.value.status == 404

    run(body())


def test_rest_errors_are_clear_4xx(server: ServerProcess) -> None:
    async def body() -> None:
        api = await new_user(server.url)
        token = {"Authorization": f"Bearer {api.token}"}
        async with httpx.AsyncClient(base_url=server.url) as http:
            cases = [
                ("GET", "/v1/me", {}, None, 401),
                ("GET", "/v1/me", {"Authorization": "Bearer nope"}, None, 401),
                ("GET", "/v1/nowhere", token, None, 404),
                ("DELETE", "/v1/me", token, None, 405),
                ("POST", "/v1/users", {}, b"{not json", 400),
                ("POST", "/v1/users", {}, b"[1,2]", 400),
                ("POST", "/v1/users", {}, b"x" * (3 << 20), 413),
                ("GET", "/v1/users/abc", token, None, 400),
                ("GET", "/v1/users/99999999999999999999999", token, None, 400),
                ("GET", "/v1/conversations/1/messages?limit=abc", token, None, 400),
                ("GET", "/v1/conversations/1/messages?limit=-1", token, None, 400),
                ("PUT", "/v1/contacts/123", token, None, 404),
            ]
            for method, path, headers, content, status in cases:
                r = await http.request(method, path, headers=headers, content=content)
                assert r.status_code == status, (method, path, r.status_code, r.text)
                error = r.json()["error"]
                assert error["code"] and error["message"], r.text

    run(body())


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(
        [
            "/v1/users",
            "/v1/sessions",
            "/v1/groups",
            "/v1/conversations/direct",
            "/v1/me/settings",
            "/v1/conversations/1/messages",
        ]
    ),
    payload=JSONISH
    | st.dictionaries(
        st.sampled_from(
            [
                "username",
                "password",
                "name",
                "members",
                "user_id",
                "body",
                "client_msg_id",
                "history_retention_days",
                "display_name",
            ]
        ),
        JSONISH,
        max_size=5,
    ),
)
def test_random_bodies_never_cause_a_server_error(
    server: ServerProcess, path: str, payload: object
) -> None:
    token = server.__dict__.setdefault("_fuzz_token", None)
    if token is None:

        async def login() -> str:
            return (await new_user(server.url)).token or ""

        token = server.__dict__["_fuzz_token"] = run(login())
    method = "PUT" if path.endswith("settings") else "POST"
    r = httpx.request(
        method,
        server.url + path,
        content=json.dumps(payload),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code < 500, (path, payload, r.text)
    if r.status_code >= 400:
        assert set(r.json()["error"]) == {"code", "message"}


def test_many_users_in_one_call(server: ServerProcess) -> None:
    """A client with hundreds of conversations fetches their names in pages of 100, not
    one request per user; unknown ids are left out, repeats answered once, in order."""

    async def body() -> None:
        me, *others = [await new_user(server.url) for _ in range(4)]
        ids = [o.user_id or "" for o in others]
        answer = await me.request(
            "GET", "/v1/users/batch", params={"ids": ",".join([ids[2], "123", *ids, ids[0]])}
        )
        assert [u["user_id"] for u in answer["users"]] == [ids[2], ids[0], ids[1]]
        assert answer["users"][0]["username"] == others[2].username  # type: ignore[attr-defined]
        for bad in ("", "x", ",".join(["1"] * 101), "1,,2x"):
            with pytest.raises(ApiError) as refused:
                await me.request("GET", "/v1/users/batch", params={"ids": bad})
            assert refused.value.status == 400, bad
        with pytest.raises(ApiError) as refused:
            await HubbubClient(server.url).request("GET", "/v1/users/batch", params={"ids": "1"})
        assert refused.value.status == 401

    run(body())


def test_the_people_directory_finds_by_prefix_and_is_bounded(server: ServerProcess) -> None:
    async def body() -> None:
        tag = uuid.uuid4().hex[:6]
        me = await new_user(server.url)
        named = []
        for i, display in enumerate(("Zoë Quill", "zed", "Ötzi")):
            api = HubbubClient(server.url)
            await api.sign_up(f"q{tag}{i}", PASSWORD, display)
            named.append(api)
        await HubbubClient(server.url).sign_up(f"zq{tag}x", PASSWORD, f"Quill {tag}")

        async def search(q: str) -> list[str]:
            found = await me.request("GET", "/v1/users/search", params={"q": q})
            return [u["username"] for u in found["users"]]

        assert await search(f"q{tag}") == [f"q{tag}0", f"q{tag}1", f"q{tag}2"]
        assert await search(f"@Q{tag.upper()}1") == [f"q{tag}1"]  # case, a leading @
        got = await search("zoë q")
        assert f"q{tag}0" in got, got  # display names, case-insensitive
        assert f"q{tag}2" in await search("ötz")
        assert await search(f"quill {tag}") == [f"zq{tag}x"]
        assert await search("@x") == []  # under two characters once the @ is gone
        assert await search("%_") == []  # LIKE's wildcards are only characters
        many = [HubbubClient(server.url) for _ in range(25)]
        for i, api in enumerate(many):
            await api.sign_up(f"w{tag}{i:02d}", PASSWORD)
        assert len(await search(f"w{tag}")) == 20  # at most 20 answers
        for bad in ("x", "y" * 65):
            with pytest.raises(ApiError) as refused:
                await search(bad)
            assert refused.value.status == 400, bad

    run(body())
