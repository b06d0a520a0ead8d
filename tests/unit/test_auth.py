"""Passwords, tokens, roles, user-data rules and the login rate limiter."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from cti.auth.exceptions import InvalidToken, InvalidUserData, TokenExpired, TooManyAttempts
from cti.auth.model import (
    Role,
    User,
    check_display_name,
    check_interface,
    check_password,
    check_role,
    check_username,
)
from cti.auth.passwords import Passwords
from cti.auth.ratelimit import LoginRateLimiter
from cti.auth.tokens import TokenSigner

pytestmark = pytest.mark.unit

KEY = "k" * 32


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def user(role: Role = Role.AGENT, user_id: int = 7, username: str = "alice") -> User:
    return User(
        id=user_id,
        username=username,
        display_name="Alice",
        role=role,
        agent_interface="PJSIP/1001",
        active=True,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


# --- passwords ------------------------------------------------------------------------------


async def test_password_hash_verifies_only_the_right_password() -> None:
    passwords = Passwords()
    hashed = await passwords.hash("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert await passwords.verify(hashed, "correct horse battery")
    assert not await passwords.verify(hashed, "correct horse battery ")
    assert not await passwords.verify(hashed, "")


async def test_same_password_hashes_differently_each_time() -> None:
    passwords = Passwords.fast()
    assert await passwords.hash("s3cret-pass") != await passwords.hash("s3cret-pass")


async def test_malformed_hash_never_matches_and_needs_rehash() -> None:
    passwords = Passwords.fast()
    assert not await passwords.verify("not-a-hash", "anything")
    assert passwords.needs_rehash("not-a-hash")


async def test_weak_parameters_ask_for_a_rehash() -> None:
    weak = await Passwords.fast().hash("s3cret-pass")
    assert Passwords().needs_rehash(weak)
    assert not Passwords.fast().needs_rehash(weak)


# --- tokens ---------------------------------------------------------------------------------


def test_token_round_trip_carries_id_username_and_role() -> None:
    clock = FakeClock()
    signer = TokenSigner(KEY, clock=clock)
    issued = signer.issue(user(Role.SUPERVISOR))
    claims = signer.verify(issued.token)
    assert (claims.user_id, claims.username, claims.role) == (7, "alice", Role.SUPERVISOR)
    assert claims.expires_at == issued.expires_at
    assert issued.expires_at - datetime.fromtimestamp(clock.now, UTC) == timedelta(hours=12)


def test_token_expires_after_its_ttl() -> None:
    clock = FakeClock()
    signer = TokenSigner(KEY, ttl=timedelta(hours=12), clock=clock)
    token = signer.issue(user()).token
    clock.advance(12 * 3600 - 1)
    assert signer.verify(token).username == "alice"
    clock.advance(1)
    with pytest.raises(TokenExpired) as caught:
        signer.verify(token)
    assert caught.value.error_id == "auth.token_expired"


def _tamper(token: str, **changes: object) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{raw}.{signature}"


def test_tampered_token_is_refused() -> None:
    signer = TokenSigner(KEY)
    token = signer.issue(user(Role.AGENT)).token
    with pytest.raises(InvalidToken) as caught:
        signer.verify(_tamper(token, role="admin"))
    assert caught.value.error_id == "auth.invalid_token"


def test_token_signed_with_another_key_is_refused() -> None:
    token = TokenSigner("x" * 32).issue(user()).token
    with pytest.raises(InvalidToken):
        TokenSigner(KEY).verify(token)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "Bearer x.y.z"])
def test_garbage_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        TokenSigner(KEY).verify(token)


def test_unsigned_token_is_refused() -> None:
    token = TokenSigner(KEY).issue(user()).token
    head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    _, payload, _ = token.split(".")
    with pytest.raises(InvalidToken):
        TokenSigner(KEY).verify(f"{head}.{payload}.")


def test_short_secret_key_is_refused_and_never_shown() -> None:
    with pytest.raises(ValueError):
        TokenSigner("short")
    assert KEY not in repr(TokenSigner(KEY))


# --- roles and user data --------------------------------------------------------------------


def test_roles_are_ordered_agent_supervisor_admin() -> None:
    assert Role.AGENT < Role.SUPERVISOR < Role.ADMIN
    assert sorted([Role.ADMIN, Role.AGENT, Role.SUPERVISOR]) == [
        Role.AGENT,
        Role.SUPERVISOR,
        Role.ADMIN,
    ]
    assert Role.ADMIN >= Role.SUPERVISOR >= Role.SUPERVISOR
    assert not Role.AGENT >= Role.SUPERVISOR
    assert max(Role) is Role.ADMIN


def test_user_data_rules() -> None:
    assert check_username("  Alice.Smith@CC ") == "alice.smith@cc"
    assert check_role("supervisor") is Role.SUPERVISOR
    assert check_interface(" PJSIP/1001 ") == "PJSIP/1001"
    assert check_interface("Local/agent1@agents") == "Local/agent1@agents"
    assert check_interface("") is None
    assert check_display_name(None, "bob") == "bob"
    assert check_password("eight ch") == "eight ch"
    bad: list[Callable[[], object]] = [
        lambda: check_username(""),
        lambda: check_username("a b"),
        lambda: check_username("x" * 65),
        lambda: check_role("root"),
        lambda: check_interface("1001"),
        lambda: check_interface("PJSIP/10 01"),
        lambda: check_interface("PJSIP/1001&PJSIP/1002"),
        lambda: check_password("short"),
        lambda: check_display_name("a\nb", "bob"),
    ]
    for attempt in bad:
        with pytest.raises(InvalidUserData):
            attempt()


# --- rate limiter ---------------------------------------------------------------------------


def test_five_failures_in_a_minute_block_the_sixth_attempt() -> None:
    clock = FakeClock(1000.0)
    limiter = LoginRateLimiter(max_failures=5, window=60.0, clock=clock)
    for _ in range(5):
        limiter.check("alice", "10.0.0.1")
        limiter.record_failure("alice", "10.0.0.1")
        clock.advance(1)
    with pytest.raises(TooManyAttempts) as caught:
        limiter.check("alice", "10.0.0.1")
    assert caught.value.error_id == "auth.rate_limited"
    assert caught.value.retry_after == pytest.approx(55.0)


def test_block_is_per_username_and_address_and_case_insensitive() -> None:
    clock = FakeClock()
    limiter = LoginRateLimiter(max_failures=2, window=60.0, clock=clock)
    limiter.record_failure("Alice", "10.0.0.1")
    limiter.record_failure("alice ", "10.0.0.1")
    assert limiter.retry_after("ALICE", "10.0.0.1") is not None
    assert limiter.retry_after("alice", "10.0.0.2") is None
    assert limiter.retry_after("bob", "10.0.0.1") is None


def test_block_lifts_when_the_oldest_failure_leaves_the_window() -> None:
    clock = FakeClock()
    limiter = LoginRateLimiter(max_failures=3, window=60.0, clock=clock)
    for _ in range(3):
        limiter.record_failure("alice", "ip")
        clock.advance(10)
    assert limiter.retry_after("alice", "ip") == pytest.approx(30.0)
    clock.advance(30)
    assert limiter.retry_after("alice", "ip") is None
    limiter.record_failure("alice", "ip")
    assert limiter.retry_after("alice", "ip") == pytest.approx(10.0)


def test_success_clears_the_failures() -> None:
    limiter = LoginRateLimiter(max_failures=2, clock=FakeClock())
    limiter.record_failure("alice", "ip")
    limiter.record_success("alice", "ip")
    limiter.record_failure("alice", "ip")
    assert limiter.retry_after("alice", "ip") is None


def test_attempt_counts_before_the_password_is_checked() -> None:
    limiter = LoginRateLimiter(max_failures=3, clock=FakeClock())
    for _ in range(3):
        limiter.attempt("alice", "ip")
    with pytest.raises(TooManyAttempts):
        limiter.attempt("alice", "ip")


def test_memory_is_bounded() -> None:
    limiter = LoginRateLimiter(max_failures=1, max_keys=100, clock=FakeClock())
    for n in range(1000):
        limiter.record_failure(f"user{n}", "ip")
    assert limiter.retry_after("user999", "ip") is not None
    assert limiter.retry_after("user0", "ip") is None
    assert len(limiter._failures) == 100
