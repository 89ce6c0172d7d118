"""Hunts that share a case store: one case per actor, repeated scanning across runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reconwatch.cases import Case
from reconwatch.config import Config
from reconwatch.hunt import hunt
from reconwatch.ingest.run import IngestOptions
from reconwatch.store import CaseStore

LINE = (
    "{stamp} fw1 kernel: [1.0] RW-DROP: IN=eth0 OUT= MAC=00:00 SRC=198.51.100.7 "
    "DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP SPT=40000 "
    "DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0 "
)


def burst(path: Path, stamp: str) -> Path:
    path.write_text("\n".join(LINE.format(stamp=stamp, port=p) for p in range(1, 21)) + "\n")
    return path


def test_same_data_twice_is_one_case_and_a_later_burst_escalates(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    options = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    day1 = burst(tmp_path / "day1.log", "Sep 30 10:00:00")
    first = hunt([str(day1)], Config(), store_url=url, options=options)
    again = hunt([str(day1)], Config(), store_url=url, options=options)
    (case1,), (case2,) = first.cases, again.cases
    assert case1.id == case2.id
    assert not case1.escalate and not case2.escalate

    day2 = burst(tmp_path / "day2.log", "Oct  1 09:00:00")
    later = hunt([str(day2)], Config(), store_url=url, options=options)
    (case3,) = later.cases
    assert case3.id == case1.id
    assert case3.escalate
    assert "across hunts: 2 separate episodes" in case3.reasons[0]

    store = CaseStore(url)
    try:
        (stored,) = store.list()
        assert (stored.id, stored.runs, stored.episodes, stored.status) == (
            case1.id, 2, 2, "escalated",
        )  # fmt: skip
    finally:
        store.close()


def test_out_dir_gets_a_sqlite_store_by_default(tmp_path: Path) -> None:
    log = burst(tmp_path / "day1.log", "Sep 30 10:00:00")
    result = hunt([str(log)], Config(), out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "reconwatch.db").is_file()
    store = CaseStore(f"sqlite:///{tmp_path / 'out' / 'reconwatch.db'}")
    try:
        assert [c.id for c in store.list()] == [result.cases[0].id]
    finally:
        store.close()


def test_a_closed_false_positive_stays_decided_when_the_same_logs_are_hunted_again(
    tmp_path: Path,
) -> None:
    """The analyst's verdict on activity stands: no new case, no escalation, no block.

    Two bursts on two days escalate (repeated scanning) and are blocked as
    malicious; the analyst closes the case as a false positive. Hunting the
    same file again finds the same activity: it is the closed case's (same id,
    its verdict in ``analyst``), not a new escalated case to block. Activity
    beyond the closed span (a third day) is new: a new case, whose id is the
    same in the hunt's cases, its block comments and the store.
    """
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    options = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    two_days = tmp_path / "two-days.log"
    two_days.write_text(
        burst(tmp_path / "a.log", "Sep 30 10:00:00").read_text()
        + burst(tmp_path / "b.log", "Oct  1 09:00:00").read_text()
    )
    (case,) = hunt([str(two_days)], Config(), store_url=url, options=options).cases
    assert case.escalate and case.disposition == "malicious" and case.containment["block"]
    store = CaseStore(url)
    try:
        store.decide(case.id, "alice", "close", disposition="false_positive", reason="our scanner")
    finally:
        store.close()

    again = hunt([str(two_days)], Config(), store_url=url, options=options)
    (same,) = again.cases
    assert same.id == case.id
    assert same.analyst == {
        "case_id": case.id, "status": "closed", "disposition": "false_positive",
        "reason": "our scanner",
    }  # fmt: skip
    assert (same.escalate, same.reasons, same.disposition) == (False, [], "benign")
    assert same.containment["block"] is False
    assert f"case {case.id} closed by an analyst as false_positive" in same.containment["why"]
    assert again.plan.entries == ()
    assert again.document()["cases"][0]["analyst"]["disposition"] == "false_positive"

    three_days = tmp_path / "three-days.log"
    three_days.write_text(
        two_days.read_text() + burst(tmp_path / "c.log", "Oct  2 08:00:00").read_text()
    )
    later = hunt([str(three_days)], Config(), store_url=url, options=options)
    closed, new = sorted(later.cases, key=lambda c: c.first_seen)
    # The two closed days stay the closed case's; only the third day is new,
    # judged on its own: the episodes the analyst closed do not make it "repeated".
    assert closed.id == case.id and closed.analyst is not None
    assert closed.first_seen.day == 30 and closed.last_seen.day == 1
    assert new.analyst is None and new.id not in (case.id, "")
    assert (new.first_seen.month, new.first_seen.day) == (10, 2)
    assert len(new.findings) == 1 and not new.escalate
    assert later.plan.entries == ()
    store = CaseStore(url)
    try:
        stored = {c.id: (c.status, c.episodes) for c in store.list()}
    finally:
        store.close()
    # The closed case's two days are its two episodes (as its escalation said).
    assert stored == {case.id: ("closed", 2), new.id: ("open", 1)}


def test_closed_activity_in_a_lake_does_not_make_new_activity_repeated(tmp_path: Path) -> None:
    """Hunting a lake re-reads the activity an analyst closed: it must not count again.

    A morning burst is closed as a false positive; the afternoon burst of the
    same source, hunted over the same lake (which still holds the morning), is
    a new case of one episode: not "2 separate scan episodes", not escalated,
    not blocked; the morning stays the closed case's.
    """
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    lake = tmp_path / "lake"
    options = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    morning = burst(tmp_path / "a.log", "Sep 30 10:00:00")
    (first,) = hunt([str(morning)], Config(), store_url=url, lake_dir=lake, options=options).cases
    _close(url, first.id)
    afternoon = burst(tmp_path / "b.log", "Sep 30 14:00:00")
    later = hunt([str(afternoon)], Config(), store_url=url, lake_dir=lake, options=options)
    closed, new = sorted(later.cases, key=lambda c: c.first_seen)
    assert (closed.id, closed.disposition) == (first.id, "benign")
    assert (closed.first_seen.hour, new.first_seen.hour) == (10, 14)
    # The new case's activity and evidence are the afternoon's alone.
    assert new.activity.events == 20 and new.activity.first_seen is not None
    assert new.activity.first_seen.hour == 14
    assert all(e.timestamp.hour == 14 for f in new.findings for e in f.evidence)
    assert new.analyst is None and new.id != first.id
    assert not new.escalate and new.disposition != "malicious"
    assert not any("episodes" in reason for reason in new.reasons)
    assert later.plan.entries == ()
    document = {c["id"]: c for c in later.document()["cases"]}
    assert document[first.id]["analyst"]["disposition"] == "false_positive"
    assert document[new.id]["analyst"] is None


def _close(url: str, case_id: str) -> None:
    store = CaseStore(url)
    try:
        store.decide(case_id, "alice", "close", disposition="false_positive", reason="ours")
    finally:
        store.close()


def test_any_closed_case_covering_the_activity_keeps_its_verdict_over_an_open_one(
    tmp_path: Path,
) -> None:
    """Not only the latest closed case counts, and a later open case does not absorb it.

    A (two days, escalated) is closed; B (a later burst) is closed too; C (a
    burst later still) stays open. Re-hunting A's logs is A's activity: A's id,
    A's verdict, no Tier 2 package, nothing blocked, and C is left as it was
    (A's closed episodes must not make C "repeated" and blocked).
    """
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    options = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    a_log = tmp_path / "a.log"
    a_log.write_text(
        burst(tmp_path / "a1.log", "Sep 30 10:00:00").read_text()
        + burst(tmp_path / "a2.log", "Oct  1 09:00:00").read_text()
    )
    (a,) = hunt([str(a_log)], Config(), store_url=url, options=options).cases
    assert a.escalate
    _close(url, a.id)
    b_log = burst(tmp_path / "b.log", "Oct  5 10:00:00")
    (b,) = hunt([str(b_log)], Config(), store_url=url, options=options).cases
    _close(url, b.id)
    c_log = burst(tmp_path / "c.log", "Oct  9 10:00:00")
    (c,) = hunt([str(c_log)], Config(), store_url=url, options=options).cases
    assert len({a.id, b.id, c.id}) == 3 and not c.escalate

    again = hunt([str(a_log)], Config(), store_url=url, options=options)
    (same,) = again.cases
    assert (same.id, same.escalate, same.disposition, same.tier2) == (a.id, False, "benign", {})
    assert same.analyst is not None and same.analyst["case_id"] == a.id
    assert again.plan.entries == ()
    store = CaseStore(url)
    try:
        stored = {s.id: (s.status, s.runs) for s in store.list()}
    finally:
        store.close()
    assert stored == {a.id: ("closed", 1), b.id: ("closed", 1), c.id: ("open", 1)}


def test_a_renamed_case_id_is_always_free(tmp_path: Path) -> None:
    """Reopening at the same second of another day cannot land on an id already used."""
    store = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    try:
        at = dt.datetime(2026, 11, 28, 4, 0, tzinfo=dt.UTC)
        documents = [{
            "id": "RW-1", "actor": "198.51.100.7", "first_seen": at.isoformat(),
            "last_seen": at.isoformat(), "severity": "low", "escalate": False,
            "disposition": "suspicious", "reasons": [], "sources": ["198.51.100.7"],
        }]  # fmt: skip
        ids = []
        for day in range(3):
            now = at + dt.timedelta(days=day)
            renamed = store.new_ids([documents[0]["id"]], now)
            doc = {**documents[0], "id": renamed.get("RW-1", "RW-1")}
            ids.append(store.record([doc], f"run{day}", 900, now=now)[doc["id"]])
            store.decide(ids[-1], "alice", "close", disposition="benign", reason="ours")
        assert ids == ["RW-1", "RW-1-040000", "RW-1-040000-2"]
    finally:
        store.close()


def test_a_case_escalated_by_an_analyst_stays_escalated_in_later_hunts(tmp_path: Path) -> None:
    """Tier 2 works on an escalated case until it is closed: a hunt does not call it suspicious."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    options = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    day1 = burst(tmp_path / "day1.log", "Sep 30 10:00:00")
    (first,) = hunt([str(day1)], Config(), store_url=url, options=options).cases
    assert not first.escalate and first.disposition == "suspicious"
    store = CaseStore(url)
    try:
        store.decide(first.id, "alice", "escalate", reason="same /24 as yesterday's exploit")
    finally:
        store.close()
    again = hunt([str(day1)], Config(), store_url=url, options=options)
    (case,) = again.cases
    assert case.id == first.id
    assert case.escalate and case.disposition == "malicious"
    assert f"Escalated to Tier 2 earlier (case {first.id})" in case.reasons[-1]
    assert again.document()["cases"][0]["escalate"] is True


def test_an_escalated_case_keeps_its_severity_in_a_quieter_hunt(tmp_path: Path) -> None:
    """Day 1 escalated it at high; day 2 sees one burst: still escalated, still high."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    options = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    day1 = burst(tmp_path / "day1.log", "Sep 30 10:00:00")
    (first,) = hunt([str(day1)], Config(), store_url=url, options=options).cases
    assert first.severity == "low"
    # What a busier day-1 hunt recorded for the actor: escalated, high.
    earlier = hunt([str(day1)], Config(), options=options).document()
    document = {**earlier["cases"][0], "actor": first.actor, "severity": "high",
                "escalate": True, "reasons": ["Repeated scanning"]}  # fmt: skip
    store = CaseStore(url)
    try:
        store.record([document], "busier-day-1", 900)
    finally:
        store.close()
    (case,) = hunt([str(day1)], Config(), store_url=url, options=options).cases
    assert case.escalate and case.severity == "high"


SWEEP_OFFSETS = {80: 0, 22: 20, 8080: 10}


def sweep(path: Path, ports: tuple[int, ...]) -> Path:
    """Four sources splitting 203.0.113.0/24 in quarters on each of ``ports``
    within an hour, each under the 5-minute thresholds: one coordinated sweep.
    A port's probes are at the same times whichever other ports the sweep has."""
    return write_sorted(path, sweep_lines(ports))


def sweep_lines(ports: tuple[int, ...], first_source: int = 1) -> list[str]:
    """``sweep``'s lines, its sources 192.0.2.``first_source`` and the three after."""
    lines = []
    for s in range(4):
        for n, host in enumerate(range(64 * s, 64 * s + 64)):
            for port in ports:
                second = n * 50 + SWEEP_OFFSETS[port] + s
                lines.append(
                    probe(second, f"192.0.2.{first_source + s}", f"203.0.113.{host}", port)
                )
    return lines


def probe(second: int, source: str, host: str, port: int) -> str:
    """One dropped SYN ``second`` seconds after 10:00 on Sep 30."""
    stamp = f"Sep 30 10:{second // 60:02d}:{second % 60:02d}"
    return (
        LINE.format(stamp=stamp, port=port)
        .replace("SRC=198.51.100.7", f"SRC={source}")
        .replace("DST=203.0.113.10", f"DST={host}")
    )


def write_sorted(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(sorted(lines, key=lambda line: line[:15])) + "\n")
    return path


def campaign_cases(cases: list[Case]) -> list[Case]:
    return [c for c in cases if c.campaign is not None]


def hunt_campaign(log: Path, url: str) -> list[Case]:
    options = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    return campaign_cases(hunt([str(log)], Config(), store_url=url, options=options).cases)


def close(url: str, case: Case) -> None:
    store = CaseStore(url)
    try:
        store.decide(case.id, "alice", "close", disposition="false_positive", reason="our test")
    finally:
        store.close()


def test_a_closed_campaign_case_stays_decided_for_each_of_its_ports(tmp_path: Path) -> None:
    """A sweep of two ports is one campaign case of two labels; once closed,
    hunting the same logs again opens no case for either port (the decision
    names the case's actor, its first label, which each label is joined to)."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    log = sweep(tmp_path / "sweep.log", (22, 80))
    (case,) = hunt_campaign(log, url)
    assert case.ports == [22, 80] and len({f.label for f in case.findings}) == 2
    assert case.campaign is not None and case.campaign.startswith("campaign:tcp/22@")
    close(url, case)

    (again,) = hunt_campaign(log, url)
    assert again.id == case.id and again.analyst is not None
    assert again.ports == [22, 80]


def test_a_port_closed_before_the_sweep_grew_stays_decided(tmp_path: Path) -> None:
    """The analyst closed the tcp/80 sweep (its own label was its case's
    actor); the logs then show the same sources on tcp/22 too, which joins
    both under the tcp/22 label. The tcp/80 part stays the closed case's;
    only tcp/22 is new."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    (web,) = hunt_campaign(sweep(tmp_path / "80.log", (80,)), url)
    assert web.campaign is not None and web.campaign.startswith("campaign:tcp/80@")
    close(url, web)

    cases = hunt_campaign(sweep(tmp_path / "both.log", (22, 80)), url)
    closed, new = sorted(cases, key=lambda c: c.analyst is None)
    assert closed.id == web.id and closed.ports == [80] and closed.analyst is not None
    assert new.analyst is None and new.ports == [22] and new.id != web.id


def test_a_closed_sweep_stays_decided_when_a_port_sorting_first_joins_it(tmp_path: Path) -> None:
    """The analyst closed the tcp/80 + tcp/8080 sweep (known by its tcp/80
    label); the logs then show tcp/22 too, which sorts first and becomes the
    sweep's key. The 80 and 8080 activity stays the closed case's (its
    decision is found under any label of the sweep); tcp/22's, reaching past
    the closed span, is new."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    (web,) = hunt_campaign(sweep(tmp_path / "two.log", (80, 8080)), url)
    assert web.campaign is not None and web.campaign.startswith("campaign:tcp/80@")
    assert web.ports == [80, 8080]
    close(url, web)

    cases = hunt_campaign(sweep(tmp_path / "three.log", (22, 80, 8080)), url)
    closed, new = sorted(cases, key=lambda c: c.analyst is None)
    assert closed.id == web.id and closed.ports == [80, 8080] and closed.analyst is not None
    assert new.analyst is None and new.ports == [22]


def test_an_open_sweep_keeps_its_case_when_a_port_sorting_first_joins_it(tmp_path: Path) -> None:
    """The tcp/80 sweep's case is open (known by its tcp/80 label); the logs
    then show the same sources on tcp/22 too, which sorts first. The sweep
    keeps its key and its case: one open case holding both ports, not a new
    case beside the old one."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    (web,) = hunt_campaign(sweep(tmp_path / "80.log", (80,)), url)
    assert web.campaign is not None and web.campaign.startswith("campaign:tcp/80@")

    (grown,) = hunt_campaign(sweep(tmp_path / "both.log", (22, 80)), url)
    assert grown.id == web.id and grown.campaign == web.campaign
    assert grown.ports == [22, 80] and grown.analyst is None
    store = CaseStore(url)
    try:
        sweeps = [c for c in store.list() if c.actor.startswith("campaign:")]
        assert [(c.id, c.actor, c.status != "closed") for c in sweeps] == [
            (web.id, web.campaign, True)
        ]
    finally:
        store.close()
    # A fresh store has no key to keep: the same logs are known by tcp/22.
    (fresh,) = hunt_campaign(tmp_path / "both.log", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert fresh.campaign is not None and fresh.campaign.startswith("campaign:tcp/22@")


def test_two_open_sweeps_a_source_joins_name_each_other_on_their_trails(tmp_path: Path) -> None:
    """Two sweeps by different sources (tcp/80 and tcp/22) are two open
    campaign cases; a later hunt sees a source that is a member of both,
    which joins them into one campaign, recorded under the first key
    (tcp/22). The tcp/80 case gets no activity from then on: both trails
    say so, once however often the logs are hunted; neither case is closed."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    apart = sweep_lines((80,)) + sweep_lines((22,), first_source=5)
    cases = hunt_campaign(write_sorted(tmp_path / "apart.log", apart), url)
    web, ssh = sorted(cases, key=lambda c: c.ports)[::-1]
    assert (ssh.ports, web.ports) == ([22], [80]) and ssh.id != web.id
    # 192.0.2.9 probes ten hosts on each port in the same hour: a member of both.
    bridge = [
        probe(1000 + 60 * i, "192.0.2.9", f"203.0.113.{100 + i}", p)
        for i in range(10)
        for p in (22, 80)
    ]
    joined_log = write_sorted(tmp_path / "joined.log", apart + bridge)
    for _ in range(2):
        (joined,) = hunt_campaign(joined_log, url)
        assert joined.id == ssh.id and joined.ports == [22, 80]
        assert "192.0.2.9" in joined.sources
        store = CaseStore(url)
        try:
            stored = {c.id: c for c in store.list() if c.actor.startswith("campaign:")}
            trail = {
                case_id: [a.detail for a in store.get(case_id).actions if a.action == "linked"]
                for case_id in stored
            }
        finally:
            store.close()
        assert sorted((c.id, c.status != "closed") for c in stored.values()) == sorted(
            [(ssh.id, True), (web.id, True)]
        )
        (on_web,) = trail[web.id]
        assert on_web.startswith(f"its sweep joined case {ssh.id}'s (run ")
        (on_ssh,) = trail[ssh.id]
        assert on_ssh.startswith(f"took in the sweep of open case {web.id} ({web.campaign}, run ")
