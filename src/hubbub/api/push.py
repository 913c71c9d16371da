"""REST handlers for push: the VAPID public key, the calling device's subscriptions, and
muting a conversation."""

from __future__ import annotations

from msgspec import UNSET

from hubbub.api.http import Call
from hubbub.api.schemas import (
    ConversationChange,
    ConversationSettingsOut,
    NewSubscription,
    SubscribedOut,
    SubscriptionOut,
    SubscriptionsOut,
    VapidKeyOut,
)
from hubbub.core.errors import HubbubError
from hubbub.services.push import Push


class PushApi:
    def __init__(self, push: Push) -> None:
        self.push = push

    async def vapid_public_key(self, call: Call) -> VapidKeyOut:
        if not self.push.public_key:
            raise HubbubError("unavailable", "push is starting")
        return VapidKeyOut(self.push.public_key)

    async def subscribe(self, call: Call) -> SubscribedOut:
        body: NewSubscription = call.body
        sub = await self.push.subscribe(
            call.user_id,
            call.device.device_id,
            body.kind,
            endpoint=body.endpoint,
            p256dh=body.keys.p256dh if body.keys else None,
            auth=body.keys.auth if body.keys else None,
            token=body.token,
            topic=body.topic,
        )
        return SubscribedOut(str(sub.subscription_id))

    async def subscriptions(self, call: Call) -> SubscriptionsOut:
        return SubscriptionsOut(
            [
                SubscriptionOut(
                    str(s.subscription_id),
                    s.kind,
                    str(s.device_id),
                    s.created_at,
                    endpoint=s.endpoint if s.endpoint is not None else UNSET,
                    topic=s.topic if s.topic is not None else UNSET,
                )
                for s in await self.push.subscriptions(call.user_id)
            ]
        )

    async def unsubscribe(self, call: Call) -> None:
        await self.push.unsubscribe(call.user_id, call.path_id("subscription_id"))

    async def change_conversation(self, call: Call) -> ConversationSettingsOut:
        body: ConversationChange = call.body
        conversation_id = call.path_id("conversation_id")
        value = await self.push.mute(call.user_id, conversation_id, body.muted_until)
        return ConversationSettingsOut(str(conversation_id), value or None)
