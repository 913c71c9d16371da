"""Rate limits as token buckets, pure: the caller passes the time in.

A rule is a bucket of `burst` tokens refilled at `per_second`; each counted action takes
one. An empty bucket refuses with the seconds until the next token, and the refused
action takes nothing, so a client that waits `retry_after` is served. The defaults are
set so that no person and no ordinary client meets them (an office of 200 behind one
address signs up and logs in on the same morning; the web client resends a few hundred
queued messages after a reconnect) while abuse-level floods are cut to a trickle.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True, slots=True)
class Rule:
    burst: int  # tokens when full: this many at once, after a quiet spell
    per_second: float  # refill: the sustained rate
    what: str  # what is counted, for the refusal's message; unique: it names the buckets


@dataclass(frozen=True, slots=True)
class RateRules:
    """Every limit the node enforces, by name (`--rate-limit NAME=BURST/PER_SECOND`)."""

    signups_per_address: Rule = Rule(300, 1 / 30, "sign-ups from this address")
    logins_per_address: Rule = Rule(300, 1.0, "log-ins from this address")
    login_failures_per_address: Rule = Rule(100, 1 / 10, "failed log-ins from this address")
    login_failures_per_account: Rule = Rule(10, 1 / 60, "failed log-ins for this account")
    sends_per_user: Rule = Rule(600, 20.0, "messages")
    sends_per_conversation: Rule = Rule(1000, 50.0, "messages in this conversation")
    frames_per_device: Rule = Rule(1000, 200.0, "frames")
    typing_per_user: Rule = Rule(20, 2.0, "typing notices")
    groups_per_user: Rule = Rule(20, 1 / 60, "new groups")
    group_adds_per_user: Rule = Rule(200, 1.0, "members added to groups")
    contacts_per_user: Rule = Rule(500, 1.0, "contact changes")
    push_subscriptions_per_device: Rule = Rule(20, 1 / 60, "push subscription changes")
    uploads_per_user: Rule = Rule(100, 1.0, "uploads")
    searches_per_user: Rule = Rule(60, 0.5, "people searches")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def with_overrides(self, overrides: dict[str, tuple[int, float]]) -> RateRules:
        """These rules with some replaced: {name: (burst, per_second)}."""
        unknown = set(overrides) - set(self.names())
        if unknown:
            raise ValueError(f"no rate limit called {', '.join(sorted(unknown))}")
        changes = {
            name: replace(getattr(self, name), burst=burst, per_second=rate)
            for name, (burst, rate) in overrides.items()
        }
        return replace(self, **changes)


def parse_override(text: str) -> tuple[str, tuple[int, float]]:
    """"sends_per_user=600/20" -> ("sends_per_user", (600, 20.0))."""
    name, sep, value = text.partition("=")
    burst, slash, rate = value.partition("/")
    try:
        if not sep or not slash:
            raise ValueError
        parsed = (int(burst), float(rate))
    except ValueError:
        raise ValueError(f"expected NAME=BURST/PER_SECOND, got {text!r}") from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise ValueError(f"burst must be >= 1 and the rate > 0 in {text!r}")
    return name.strip(), parsed


class TokenBuckets:
    """Buckets by key, in memory. Full buckets are forgotten by `prune`, so memory follows
    the keys active recently, not every key ever seen."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float, float]] = {}  # tokens, at, full_at

    def take(self, key: str, rule: Rule, now: float, cost: int = 1) -> float:
        """0.0 if `cost` tokens were taken; else the seconds until they would be there
        (nothing is taken)."""
        tokens, at, _ = self._buckets.get(key, (float(rule.burst), now, now))
        tokens = min(float(rule.burst), tokens + (now - at) * rule.per_second)
        if tokens >= cost:
            tokens -= cost
            self._buckets[key] = (tokens, now, now + (rule.burst - tokens) / rule.per_second)
            return 0.0
        self._buckets[key] = (tokens, now, now + (rule.burst - tokens) / rule.per_second)
        return (cost - tokens) / rule.per_second

    def wait(self, key: str, rule: Rule, now: float, cost: int = 1) -> float:
        """Like `take` without taking: 0.0 if `cost` tokens are there now."""
        found = self._buckets.get(key)
        if found is None:
            return 0.0 if rule.burst >= cost else float("inf")
        tokens = min(float(rule.burst), found[0] + (now - found[1]) * rule.per_second)
        return 0.0 if tokens >= cost else (cost - tokens) / rule.per_second

    def prune(self, now: float) -> int:
        """Forget buckets that are full again (as good as new); how many were."""
        full = [key for key, (_, _, full_at) in self._buckets.items() if full_at <= now]
        for key in full:
            del self._buckets[key]
        return len(full)

    def __len__(self) -> int:
        return len(self._buckets)
