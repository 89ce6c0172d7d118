"""Auth: OpenSSH ``sshd`` on the bastion, as rsyslog writes it to auth.log (RFC 3164).

``Sep 30 00:12:05 bastion sshd[1234]: Accepted publickey for alice from
10.0.1.23 port 51234 ssh2: ED25519 SHA256:...`` -- only the messages that name
a client (what the sshd parser reads): accepted logins, failed passwords,
invalid users, the ``[preauth]`` closes, and the disconnects at logout. Each
connection is one sshd process, so one pid per session.

The background is staff logging in with keys from the internal network, and
internet bots that try one user once (one attempt per source: no brute
force). The actors are context for triage: a scanner that later guesses
passwords and gets in once (a sign of compromise, an escalation criterion),
and an administrator logging in from home before checking the zone
(legitimate use).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.generate import text
from reconwatch.generate.addresses import PublicV4Pool
from reconwatch.generate.family import US, Context
from reconwatch.generate.text import I64, Part

AUTH_LOG: Final = "auth/auth.log"

STAFF: Final = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan")
BOT_USERS: Final = ("admin", "test", "user", "ubuntu", "oracle", "postgres", "git", "pi", "guest")
KEY_TYPES: Final = ("ED25519", "RSA", "ECDSA")

_B64: Final = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", dtype=np.uint8
)


@dataclass(frozen=True)
class Messages:
    """sshd messages, one per row, already worded (without the syslog envelope)."""

    ts: I64
    pid: I64
    message: pa.Array


def lines(m: Messages, host: str) -> pa.Array:
    return text.join(
        text.per_second(m.ts, text.syslog_stamp),
        f" {host} sshd[",
        text.dec(m.pid),
        "]: ",
        m.message,
        "\n",
    )


def _fingerprints(rng: np.random.Generator, n: int) -> pa.Array:
    """``SHA256:`` and 43 base64 characters (an OpenSSH key fingerprint)."""
    chars = np.empty((n, 50), dtype=np.uint8)
    chars[:, :7] = np.frombuffer(b"SHA256:", dtype=np.uint8)
    chars[:, 7:] = _B64[rng.integers(0, 64, size=(n, 43))]
    offsets = np.arange(0, 50 * (n + 1), 50, dtype=np.int32)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(chars.tobytes())
    )


def _concat(parts: list[Messages]) -> Messages:
    return Messages(
        np.concatenate([p.ts for p in parts]),
        np.concatenate([p.pid for p in parts]),
        pa.concat_arrays([p.message for p in parts]),
    )


def background(
    ctx: Context, rng: np.random.Generator, units: int, t0: int, t1: int
) -> tuple[Messages, dict[str, int]]:
    """About ``units`` lines: staff sessions (3 lines: accepted, received
    disconnect, disconnected) and single bot attempts (2 lines: invalid user,
    connection closed)."""
    site = ctx.site
    sessions = units * 6 // 10 // 3
    bots = (units - sessions * 3) // 2
    first, last = site.client_subnets
    # Staff: each person has a workstation and a key.
    staff_ip = text.v4_text(
        (10 << 24) + (rng.integers(first, last + 1, size=len(STAFF)) << 8)
        + rng.integers(10, 251, size=len(STAFF))
    )  # fmt: skip
    staff_key = rng.integers(0, len(KEY_TYPES), size=len(STAFF))
    staff_fingerprint = _fingerprints(rng, len(STAFF))
    who = rng.integers(0, len(STAFF), size=sessions)
    start = rng.integers(t0, max(t0 + 1, t1 - 3_600 * US), size=sessions)
    length = rng.integers(60 * US, 3_000 * US, size=sessions)
    port = rng.integers(32768, 61000, size=sessions)
    pid = rng.integers(1000, 60000, size=sessions)
    user = text.pick(STAFF, who)
    ip = text.strings(staff_ip[who])
    port_text = text.dec(port)
    accepted = text.join(
        "Accepted publickey for ", user, " from ", ip, " port ", port_text, " ssh2: ",
        text.pick(KEY_TYPES, staff_key[who]), " ", pc.take(staff_fingerprint, pa.array(who)),
    )  # fmt: skip
    received = text.join(
        "Received disconnect from ", ip, " port ", port_text, ":11: disconnected by user"
    )
    disconnected = text.join("Disconnected from user ", user, " ", ip, " port ", port_text)
    end = np.minimum(start + length, t1 - 10_000)
    staff = Messages(
        np.concatenate([start, end, end + 2_000]),
        np.concatenate([pid, pid, pid]),
        pa.concat_arrays([accepted, received, disconnected]),
    )
    # Bots: one unknown user each, from a unique address.
    bot_ip = text.strings(text.v4_text(PublicV4Pool(ctx.seed ^ 0x55D, role=0).take(bots)))
    bot_user = text.pick(BOT_USERS, rng.integers(0, len(BOT_USERS), size=bots))
    bot_port = text.dec(rng.integers(1024, 65536, size=bots))
    bot_ts = rng.integers(t0, max(t0 + 1, t1 - 10 * US), size=bots)
    bot_pid = rng.integers(1000, 60000, size=bots)
    invalid = text.join("Invalid user ", bot_user, " from ", bot_ip, " port ", bot_port)
    closed = text.join(
        "Connection closed by invalid user ", bot_user, " ", bot_ip, " port ", bot_port,
        " [preauth]",
    )  # fmt: skip
    noise = Messages(
        np.concatenate([bot_ts, bot_ts + rng.integers(200_000, 2_000_000, size=bots)]),
        np.concatenate([bot_pid, bot_pid]),
        pa.concat_arrays([invalid, closed]),
    )
    stats = {"ssh_staff_sessions": sessions, "ssh_bot_attempts": bots}
    return _concat([staff, noise]), stats


def _message_rows(ts: list[int], pid: list[int], messages: list[str]) -> Messages:
    return Messages(np.array(ts, np.int64), np.array(pid, np.int64), text.strings(messages))


def password_guesser(ctx: Context, address: str, at: float, attempts: int = 24) -> Messages:
    """A scanner back for SSH: ``attempts`` failed passwords (unknown users,
    then root), then ONE accepted password for ``deploy``, a session, and the
    logout. A success after failures from a scanning source is the playbook's
    compromise criterion."""
    rng = ctx.rng(f"ssh_guesser:{address}")
    t = ctx.actors_us + round(at * US)
    ts: list[int] = []
    pids: list[int] = []
    msgs: list[str] = []
    users = [*BOT_USERS, "root", "root", "admin", "deploy", "deploy"]
    for i in range(attempts):
        user = users[i % len(users)] if i < attempts - 2 else "deploy"
        port = int(rng.integers(32768, 61000))
        pid = int(rng.integers(1000, 60000))
        valid = user in ("root", "deploy")
        if not valid:
            ts.append(t)
            pids.append(pid)
            msgs.append(f"Invalid user {user} from {address} port {port}")
        kind = "" if valid else "invalid user "
        ts.append(t + 2_100_000)
        pids.append(pid)
        msgs.append(f"Failed password for {kind}{user} from {address} port {port} ssh2")
        ts.append(t + 2_400_000)
        pids.append(pid)
        closed = "authenticating user" if valid else "invalid user"
        msgs.append(f"Connection closed by {closed} {user} {address} port {port} [preauth]")
        t += int(rng.integers(3 * US, 9 * US))
    port = int(rng.integers(32768, 61000))
    pid = int(rng.integers(1000, 60000))
    ts += [t, t + 1_900_000 + 420 * US, t + 1_902_000 + 420 * US]
    pids += [pid] * 3
    msgs += [
        f"Accepted password for deploy from {address} port {port} ssh2",
        f"Received disconnect from {address} port {port}:11: disconnected by user",
        f"Disconnected from user deploy {address} port {port}",
    ]
    return _message_rows(ts, pids, msgs)


def admin_login(ctx: Context, address: str, at: float, stay: float) -> Messages:
    """An administrator logging in with her key from an external address (home)."""
    rng = ctx.rng(f"ssh_admin:{address}")
    t = ctx.actors_us + round(at * US)
    port = int(rng.integers(32768, 61000))
    pid = int(rng.integers(1000, 60000))
    fingerprint = _fingerprints(rng, 1)[0].as_py()
    end = t + round(stay * US)
    return _message_rows(
        [t, end, end + 2000],
        [pid] * 3,
        [
            f"Accepted publickey for carol from {address} port {port} ssh2: ED25519 {fingerprint}",
            f"Received disconnect from {address} port {port}:11: disconnected by user",
            f"Disconnected from user carol {address} port {port}",
        ],
    )


def part(m: Messages, host: str, actor: int = -1) -> Part:
    return Part(AUTH_LOG, m.ts, lines(m, host), actor)
