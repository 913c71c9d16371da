"""The route table: every REST endpoint, one row each (method, path, handler, body and
answer types, the errors it may give). The Starlette routes and the OpenAPI document are
both made from these rows (api/http.py, api/openapi.py)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from hubbub.api import schemas as s
from hubbub.api.accounts import AccountsApi
from hubbub.api.conversations import ConversationsApi
from hubbub.api.docs import docs_routes
from hubbub.api.groups import GroupsApi
from hubbub.api.http import Authenticate, Endpoint, Query, to_routes
from hubbub.api.media import MediaApi
from hubbub.api.openapi import openapi_document
from hubbub.api.operations import METRICS_MEDIA_TYPE, OperationsApi
from hubbub.api.people import PeopleApi
from hubbub.api.push import PushApi
from hubbub.api.schemas import ID_PATTERN
from hubbub.core.addresses import TrustedProxies


def endpoint_table(
    accounts: AccountsApi,
    people: PeopleApi,
    conversations: ConversationsApi,
    groups: GroupsApi,
    operations: OperationsApi,
    push: PushApi,
    media: MediaApi,
) -> list[Endpoint]:
    a, p, c, g, o, u, m = accounts, people, conversations, groups, operations, push, media
    return [
        # operations
        Endpoint("GET", "/healthz", o.healthz, "Health", "operations",
                 answer=s.HealthOut, authenticated=False),
        Endpoint("GET", "/metrics", o.metrics, "Metrics in the Prometheus text format",
                 "operations", answer=str, authenticated=False, media_type=METRICS_MEDIA_TYPE),
        Endpoint("GET", "/v1/discovery", o.discover,
                 "Which node to connect the WebSocket to", "operations",
                 answer=s.DiscoveryOut, authenticated=False, errors=("unavailable",)),
        # accounts and devices
        Endpoint("POST", "/v1/users", a.sign_up, "Sign up", "accounts", body=s.SignUp,
                 answer=s.UserOut, status=201, authenticated=False, errors=("conflict",)),
        Endpoint("POST", "/v1/sessions", a.log_in, "Log in: a new device and its token",
                 "accounts", body=s.LogIn, answer=s.SessionOut, status=201,
                 authenticated=False, errors=("unauthorized",)),
        Endpoint("DELETE", "/v1/sessions/current", a.log_out,
                 "Log out this device (its WebSocket is closed with 4002)", "accounts"),
        Endpoint("POST", "/v1/sessions/current/token", a.new_token,
                 "A fresh token for this device (the one used here stops working)",
                 "accounts", answer=s.TokenOut),
        Endpoint("GET", "/v1/sessions", a.devices,
                 "The caller's devices (logged-in sessions)", "accounts", answer=s.DevicesOut),
        Endpoint("DELETE", "/v1/sessions/{device_id}", a.log_out_device,
                 "Log out one of the caller's devices", "accounts", errors=("not_found",)),
        Endpoint("GET", "/v1/me", a.me, "The caller's profile and settings", "accounts",
                 answer=s.MeOut),
        Endpoint("PATCH", "/v1/me", a.update_profile,
                 "Change the display name, who may add you to groups, the push preview,"
                 " or the profile picture", "accounts",
                 body=s.ProfileChange, answer=s.UserOut,
                 errors=("not_found", "unsupported_media")),
        Endpoint("PUT", "/v1/me/settings", a.put_settings, "History retention", "accounts",
                 body=s.RetentionSetting, answer=s.Settings),
        # people
        Endpoint("GET", "/v1/users", p.find_user, "Find a user by username", "people",
                 answer=s.UserOut, errors=("not_found",),
                 query=(Query("username", "The exact username",
                              {"type": "string", "minLength": 1}, True),)),
        Endpoint("GET", "/v1/users/batch", p.get_users,
                 "Many users at once (unknown ids are left out)", "people",
                 answer=s.UsersOut,
                 query=(Query("ids", "1..100 user ids, comma-separated",
                              {"type": "string", "pattern": f"^{ID_PATTERN[1:-1]}"
                               f"(,{ID_PATTERN[1:-1]}){{0,99}}$"}, True),)),
        Endpoint("GET", "/v1/users/search", p.search_users,
                 "Find people by the start of their username or display name", "people",
                 answer=s.UsersOut,
                 query=(Query("q", "2..64 characters: the start of a username or display name"
                              " (case-insensitive; a leading @ is ignored)",
                              {"type": "string", "minLength": 2, "maxLength": 64}, True),)),
        Endpoint("GET", "/v1/users/{user_id}", p.get_user, "A user", "people",
                 answer=s.UserOut, errors=("not_found",)),
        Endpoint("GET", "/v1/users/{user_id}/presence", p.presence,
                 "A user's presence and last seen", "people", answer=s.PresenceOut,
                 errors=("not_found",)),
        Endpoint("GET", "/v1/contacts", p.contacts, "The caller's contacts with presence",
                 "people", answer=s.ContactsOut),
        Endpoint("PUT", "/v1/contacts/{user_id}", p.put_contact,
                 "Follow a user's presence", "people", errors=("not_found",)),
        Endpoint("DELETE", "/v1/contacts/{user_id}", p.delete_contact,
                 "Stop following a user's presence", "people"),
        # groups
        Endpoint("POST", "/v1/groups", g.create, "Create a group", "groups",
                 body=s.NewGroup, answer=s.GroupOut, status=201,
                 errors=("not_found", "group_full")),
        Endpoint("GET", "/v1/groups/{group_id}", g.get,
                 "A group, to its members (404 to former members and everyone else)",
                 "groups", answer=s.GroupOut, errors=("not_found",)),
        Endpoint("PATCH", "/v1/groups/{group_id}", g.rename,
                 "Rename a group (any member)", "groups", body=s.GroupChange,
                 answer=s.GroupOut, errors=("forbidden", "not_found")),
        Endpoint("POST", "/v1/groups/{group_id}/members", g.add_member, "Add a member",
                 "groups", body=s.UserRef, errors=("forbidden", "not_found", "group_full")),
        Endpoint("DELETE", "/v1/groups/{group_id}/members/{user_id}", g.remove_member,
                 "Remove a member (the owner removes anyone; anyone may leave)", "groups",
                 errors=("forbidden", "not_found")),
        # conversations and messages
        Endpoint("GET", "/v1/conversations", c.list,
                 "The caller's conversations, newest activity first", "conversations",
                 answer=s.ConversationsOut),
        Endpoint("POST", "/v1/conversations/direct", c.direct,
                 "Get or start the direct conversation with a user", "conversations",
                 body=s.UserRef, answer=s.DirectOut, errors=("not_found",)),
        Endpoint("GET", "/v1/conversations/{conversation_id}/messages", c.history,
                 "History, newest first", "conversations", answer=s.MessagesOut,
                 errors=("not_found",),
                 query=(Query("before", "Only ids below this message id",
                              {"type": "string", "pattern": f"^$|{ID_PATTERN}"}),
                        Query("limit", "At most this many (default 20, max 100)",
                              {"type": "integer", "minimum": 1}))),
        Endpoint("POST", "/v1/conversations/{conversation_id}/messages", c.post_message,
                 "Post a message (idempotent on client_msg_id)", "conversations",
                 body=s.NewMessage, answer=s.PostedOut, status=201,
                 errors=("not_found", "too_large")),
        Endpoint("DELETE", "/v1/conversations/{conversation_id}", c.delete,
                 "Delete a group you left or were removed from from your list (all your"
                 " devices); 409 for a conversation you take part in", "conversations",
                 errors=("conflict", "not_found")),
        Endpoint("PATCH", "/v1/conversations/{conversation_id}", u.change_conversation,
                 "Mute (or unmute) pushes for a conversation, for the caller",
                 "conversations", body=s.ConversationChange, answer=s.ConversationSettingsOut,
                 errors=("not_found",)),
        # push notifications
        Endpoint("GET", "/v1/push/vapid-public-key", u.vapid_public_key,
                 "The server's VAPID public key (for PushManager.subscribe)", "push",
                 answer=s.VapidKeyOut, authenticated=False, errors=("unavailable",)),
        Endpoint("POST", "/v1/push/subscriptions", u.subscribe,
                 "Subscribe this device (one per kind: a new one replaces the old)", "push",
                 body=s.NewSubscription, answer=s.SubscribedOut, status=201),
        Endpoint("GET", "/v1/push/subscriptions", u.subscriptions,
                 "The caller's push subscriptions", "push", answer=s.SubscriptionsOut),
        Endpoint("DELETE", "/v1/push/subscriptions/{subscription_id}", u.unsubscribe,
                 "Delete one of the caller's push subscriptions", "push",
                 errors=("not_found",)),
        # attachments
        Endpoint("POST", "/v1/media", m.upload,
                 "Upload a file (the raw bytes, streamed) to attach to messages", "media",
                 raw_body=True, answer=s.MediaOut, status=201,
                 errors=("too_large", "unsupported_media"),
                 query=(Query("filename", "The file's name, to show and to download as",
                              {"type": "string", "maxLength": 1024}),)),
        Endpoint("GET", "/v1/media/{media_id}", m.download,
                 "A file: to its uploader, to members of a conversation it was shared in,"
                 " and to every user while it is someone's profile picture",
                 "media", answer=bytes, media_type="*/*",
                 errors=("not_found",), more_statuses=(206, 304, 416)),
        Endpoint("GET", "/v1/media/{media_id}/thumbnail", m.thumbnail,
                 "A JPEG thumbnail of an image (to whoever may fetch the file)", "media",
                 answer=bytes, media_type="image/jpeg", errors=("not_found",),
                 more_statuses=(206, 304, 416)),
    ]


def build_routes(
    endpoints: list[Endpoint], authenticate: Authenticate, trusted: TrustedProxies
) -> list[BaseRoute]:
    """The Starlette routes of the table, then the OpenAPI document and its viewer."""
    document = openapi_document(endpoints)
    return [*to_routes(endpoints, authenticate, trusted), *docs_routes(document)]
