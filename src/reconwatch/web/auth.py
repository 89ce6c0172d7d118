"""Analysts' credentials: password hashes, API tokens, the session secret, login throttling.

Passwords are hashed with argon2id (argon2-cffi). API tokens are 32 random
bytes shown once; only their SHA-256 is stored, which is enough for a secret
that cannot be guessed and lets the token be looked up by an index.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "rw_"  # noqa: S105 (a marker, not a secret)
SECRET_FILE = "reconwatch-web.secret"  # noqa: S105 (a file name)
MAX_TRACKED = 100_000  # throttle keys kept before expired ones are swept

_DEFAULT_HASHER = PasswordHasher()


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    return (hasher or _DEFAULT_HASHER).hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises on a wrong or malformed hash.

    The parameters are read from the stored hash, so hashes made with cheaper
    settings (tests) or older defaults still verify.
    """
    try:
        return _DEFAULT_HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash of a random password: verifying an unknown user's attempt against it
# takes as long as a real check, so response time does not reveal which names exist.
_DUMMY_HASH = _DEFAULT_HASHER.hash(secrets.token_urlsafe(16))


def burn_time(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def new_api_token() -> tuple[str, str]:
    """A new API token and the hash to store: ``(token, sha256 hex)``."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def secret_path_for(store_url: str, config_path: Path | None = None) -> Path:
    """Where the session secret lives: next to a SQLite store, else next to the config.

    A server store (PostgreSQL) has no directory of its own; then the config
    file's directory, then the working directory.
    """
    prefix = "sqlite:///"
    if store_url.startswith(prefix) and store_url[len(prefix) :] not in ("", ":memory:"):
        return Path(store_url[len(prefix) :]).resolve().parent / SECRET_FILE
    if config_path is not None:
        return config_path.resolve().parent / SECRET_FILE
    return Path.cwd() / SECRET_FILE


def load_or_create_secret(path: Path) -> str:
    """The session-signing key kept in ``path`` (created 0600 on first use).

    Kept in a file so sessions survive a restart; never in the code or the
    config, which get copied around. Delete the file to log everyone out.
    """
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Written whole under a private name, then linked into place: link() fails
    # if the name exists, so two servers starting at once agree on one key, and
    # the file is never seen half-written.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    draft = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secret + "\n")
        try:
            path.hardlink_to(draft)
        except FileExistsError:
            return _read_secret(path)  # the other server's key, complete
        except OSError:
            # No hard links here (some SMB, vboxsf, exFAT mounts): an exclusive
            # create instead; only a second server starting in the same
            # instant could then read the file before it is written.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secret + "\n")
    finally:
        draft.unlink()
    return secret


def _read_secret(path: Path) -> str:
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < 32:
        raise ValueError(f"{path}: session secret is too short; delete the file to make a new one")
    return secret


class LoginThrottle:
    """At most ``attempts`` failed logins per client address and per user name in ``window`` s.

    Counting per name stops a distributed guess at one account; per address
    stops one client spraying many names. In memory: a restart forgets, which
    is acceptable for a loopback service with argon2 in front.

    A login reserves its attempt with :meth:`begin` before the password is
    checked and settles it with :meth:`end`: attempts still being checked
    count, so many logins sent at once cannot all pass the check before the
    first failure is recorded.
    """

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._pending: dict[str, int] = {}
        self._lock = threading.RLock()

    @staticmethod
    def _keys(client: str, name: str) -> tuple[str, str]:
        return f"ip:{client}", f"user:{name.lower()}"

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def _count(self, key: str, now: float) -> int:
        # Only reads: a key is never added for a name that is merely looked at
        # (a refused client spraying names would grow the table without bound).
        times = self._failures.get(key)
        if times is not None:
            while times and now - times[0] > self.window:
                times.popleft()
            if not times:
                del self._failures[key]
        return (len(times) if times else 0) + self._pending.get(key, 0)

    def blocked(self, client: str, name: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(self._count(key, now) >= self.attempts for key in self._keys(client, name))

    def begin(self, client: str, name: str) -> bool:
        """Reserve one login attempt; False (nothing reserved) when throttled.

        Every True must be followed by one :meth:`end`.
        """
        with self._lock:  # re-entrant: ``blocked`` takes it too
            if self.blocked(client, name):
                return False
            for key in self._keys(client, name):
                self._pending[key] = self._pending.get(key, 0) + 1
            return True

    def end(self, client: str, name: str, ok: bool) -> None:
        """Settle an attempt :meth:`begin` reserved: a failure or a success."""
        # One step under the lock (re-entrant: failed/succeeded take it too): a
        # login begun between the pending count's drop and the failure's
        # record would otherwise pass on a count one short.
        with self._lock:
            for key in self._keys(client, name):
                left = self._pending.get(key, 0) - 1
                if left > 0:
                    self._pending[key] = left
                else:
                    self._pending.pop(key, None)
            if ok:
                self.succeeded(client, name)
            else:
                self.failed(client, name)

    def failed(self, client: str, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > MAX_TRACKED:
                # Someone spraying random names must not grow this without bound.
                for key in list(self._failures):
                    if not self._recent(key, now):
                        del self._failures[key]
            for key in self._keys(client, name):
                self._recent(key, now).append(now)

    def succeeded(self, client: str, name: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(client, name)[1], None)
