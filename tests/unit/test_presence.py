"""PresenceTracker: online/offline transitions, the timeout, no flapping."""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hubbub.core.presence import PresenceTracker, Transition

T = 30_000  # timeout_ms
U = 1


def test_connect_goes_online() -> None:
    p = PresenceTracker(T)
    assert p.connected(U, 1_000) == Transition(U, True, 1_000)
    assert p.status(U) == (True, 1_000)
    assert p.next_deadline() == 1_000 + T


def test_unknown_user() -> None:
    p = PresenceTracker(T)
    assert p.status(U) is None
    assert p.activity(U, 5) is None  # a frame from nobody known: nothing to say
    assert p.status(U) is None
    assert p.disconnected(U, logged_out=True) is None
    assert p.expire(10**12) == []
    assert p.next_deadline() is None


def test_activity_keeps_online_and_moves_deadline() -> None:
    p = PresenceTracker(T)
    p.connected(U, 0)
    assert p.activity(U, 10_000) is None
    assert p.activity(U, 25_000) is None
    assert p.status(U) == (True, 25_000)
    assert p.expire(T) == []  # the first deadline passed, but there was activity since
    assert p.status(U) == (True, 25_000)
    assert p.expire(25_000 + T - 1) == []
    assert p.expire(25_000 + T) == [Transition(U, False, 25_000)]


def test_activity_with_older_time_does_not_move_last_active_back() -> None:
    p = PresenceTracker(T)
    p.connected(U, 5_000)
    assert p.activity(U, 1_000) is None
    assert p.status(U) == (True, 5_000)


def test_disconnect_stays_online_until_timeout_then_offline_once() -> None:
    p = PresenceTracker(T)
    p.connected(U, 0)
    p.activity(U, 1_000)
    assert p.disconnected(U, logged_out=False) is None
    assert p.status(U) == (True, 1_000)
    assert p.expire(1_000 + T - 1) == []
    assert p.status(U) == (True, 1_000)
    assert p.expire(1_000 + T) == [Transition(U, False, 1_000)]
    assert p.expire(1_000 + T) == []
    assert p.expire(1_000 + 10 * T) == []
    # nothing left for an offline user with no connection
    assert p.status(U) is None
    assert p.next_deadline() is None


def test_reconnect_within_timeout_does_not_flap() -> None:
    p = PresenceTracker(T)
    assert p.connected(U, 0) is not None
    assert p.disconnected(U, logged_out=False) is None
    assert p.connected(U, T - 1) is None  # back before the deadline: no transition
    assert p.expire(T) == []
    assert p.expire(2 * T - 2) == []
    assert p.status(U) == (True, T - 1)
    # still connected, silent: offline at last_active + timeout
    assert p.expire(2 * T - 1) == [Transition(U, False, T - 1)]


def test_reconnect_after_timeout_goes_online_again() -> None:
    p = PresenceTracker(T)
    p.connected(U, 0)
    p.disconnected(U, logged_out=False)
    assert p.expire(T) == [Transition(U, False, 0)]
    assert p.connected(U, T + 5) == Transition(U, True, T + 5)


def test_logout_of_only_connection_is_immediately_offline() -> None:
    p = PresenceTracker(T)
    p.connected(U, 0)
    p.activity(U, 100)
    assert p.disconnected(U, logged_out=True) == Transition(U, False, 100)
    assert p.status(U) == (False, 100)
    assert p.expire(100 + T) == []  # no second offline
    assert p.status(U) is None


def test_logout_while_another_connection_exists_is_no_transition() -> None:
    p = PresenceTracker(T)
    p.connected(U, 0)
    assert p.connected(U, 10) is None  # a second device
    assert p.disconnected(U, logged_out=True) is None
    assert p.status(U) == (True, 10)
    # the remaining device logs out too: now offline
    assert p.disconnected(U, logged_out=True) == Transition(U, False, 10)


def test_logout_then_login_again_before_deadline() -> None:
    p = PresenceTracker(T)
    p.connected(U, 0)
    assert p.disconnected(U, logged_out=True) == Transition(U, False, 0)
    assert p.connected(U, 50) == Transition(U, True, 50)
    assert p.expire(T) == []  # the stale deadline of the first session must not fire
    assert p.expire(50 + T) == [Transition(U, False, 50)]


def test_logout_after_timeout_already_offline_is_no_transition() -> None:
    p = PresenceTracker(T)
    p.connected(U, 0)
    assert p.expire(T) == [Transition(U, False, 0)]
    assert p.disconnected(U, logged_out=True) is None


def test_connected_silent_user_goes_offline_and_back_on_activity() -> None:
    p = PresenceTracker(T)
    p.connected(U, 0)
    assert p.expire(T) == [Transition(U, False, 0)]
    assert p.status(U) == (False, 0)  # still known: the socket is open
    assert p.expire(5 * T) == []
    assert p.activity(U, 5 * T) == Transition(U, True, 5 * T)
    assert p.next_deadline() == 6 * T
    assert p.expire(6 * T) == [Transition(U, False, 5 * T)]


def test_expire_returns_only_users_past_their_deadline() -> None:
    p = PresenceTracker(T)
    for user in range(100):
        p.connected(user, user * 100)  # user u's deadline: u*100 + T
    for user in range(0, 100, 2):
        p.disconnected(user, logged_out=False)
    gone = p.expire(4_950 + T)
    assert sorted(t.user_id for t in gone) == list(range(50))
    assert all(not t.online for t in gone)
    assert all(t.last_active_at == t.user_id * 100 for t in gone)
    for user in range(100):
        status = p.status(user)
        assert status is None or status[0] == (user >= 50)
    assert p.next_deadline() == 5_000 + T
    rest = p.expire(10**9)
    assert sorted(t.user_id for t in rest) == list(range(50, 100))


def test_expire_many_users_with_refreshed_activity() -> None:
    p = PresenceTracker(T)
    for user in range(50):
        p.connected(user, 0)
    for user in range(0, 50, 5):
        p.activity(user, 1_000)
    gone = p.expire(T)
    assert {t.user_id for t in gone} == set(range(50)) - set(range(0, 50, 5))
    assert {t.user_id for t in p.expire(1_000 + T)} == set(range(0, 50, 5))


# -- model-based state machine ----------------------------------------------------------

USERS = (1, 2, 3)


class PresenceMachine(RuleBasedStateMachine):
    """Random connect / activity / disconnect / logout / expire at non-decreasing times,
    checked against a direct O(users) model of the rules."""

    def __init__(self) -> None:
        super().__init__()
        self.p = PresenceTracker(T)
        self.now = 0
        self.conns = dict.fromkeys(USERS, 0)
        self.online = dict.fromkeys(USERS, False)
        self.last = dict.fromkeys(USERS, 0)
        self.history: dict[int, list[bool]] = {u: [] for u in USERS}

    def _record(self, got: list[Transition], expected: list[Transition]) -> None:
        assert sorted(got, key=lambda t: t.user_id) == sorted(expected, key=lambda t: t.user_id)
        for t in got:
            self.history[t.user_id].append(t.online)

    def _model_activity(self, user: int) -> list[Transition]:
        self.last[user] = max(self.last[user], self.now)
        if self.online[user]:
            return []
        self.online[user] = True
        return [Transition(user, True, self.last[user])]

    @rule(dt=st.integers(min_value=0, max_value=T // 2))
    def tick(self, dt: int) -> None:
        self.now += dt

    @rule(user=st.sampled_from(USERS))
    def connect(self, user: int) -> None:
        got = self.p.connected(user, self.now)
        self.conns[user] += 1
        self._record([got] if got else [], self._model_activity(user))

    @rule(user=st.sampled_from(USERS))
    def activity(self, user: int) -> None:
        if self.conns[user] == 0:
            return  # frames only come from connected devices
        got = self.p.activity(user, self.now)
        self._record([got] if got else [], self._model_activity(user))

    @rule(user=st.sampled_from(USERS), logged_out=st.booleans())
    def disconnect(self, user: int, logged_out: bool) -> None:
        if self.conns[user] == 0:
            return
        got = self.p.disconnected(user, logged_out=logged_out)
        self.conns[user] -= 1
        expected = []
        if logged_out and self.conns[user] == 0 and self.online[user]:
            self.online[user] = False
            expected = [Transition(user, False, self.last[user])]
        self._record([got] if got else [], expected)

    @rule()
    def expire(self) -> None:
        got = self.p.expire(self.now)
        assert len({t.user_id for t in got}) == len(got), "a user expired twice in one tick"
        expected = []
        for user in USERS:
            if self.online[user] and self.last[user] + T <= self.now:
                self.online[user] = False
                expected.append(Transition(user, False, self.last[user]))
        self._record(got, expected)

    @invariant()
    def transitions_alternate(self) -> None:
        for seq in self.history.values():
            assert all(a != b for a, b in itertools.pairwise(seq))
            if seq:
                assert seq[0] is True

    @invariant()
    def status_agrees_with_model(self) -> None:
        for user in USERS:
            status = self.p.status(user)
            if status is None:
                assert not self.online[user]
                assert self.conns[user] == 0
            else:
                assert status[0] == self.online[user]

    @invariant()
    def every_online_user_has_a_deadline(self) -> None:
        deadlines = [self.last[u] + T for u in USERS if self.online[u]]
        if deadlines:
            nd = self.p.next_deadline()
            assert nd is not None
            assert nd <= min(deadlines)


PresenceMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
TestPresenceMachine = PresenceMachine.TestCase


def test_offline_user_is_forgotten_when_last_socket_closes() -> None:
    p = PresenceTracker(T)
    p.connected(U, 0)
    assert p.expire(T) == [Transition(U, False, 0)]
    assert p.status(U) == (False, 0)
    assert p.disconnected(U, logged_out=False) is None
    assert p.status(U) is None
