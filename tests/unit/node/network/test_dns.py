"""The cloud's DNS names and what the node's DNS server answers from its records."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from mallee.dns_names import check_domain, domains, elb_name
from mallee.node.network.dns_records import build
from mallee.node.network.dns_server import Answerer, host_resolvers

NAMES = domains("eucalyptus.internal", "mallee.test")
ELB_DOMAIN = "eucalyptus.elb.mallee.test"
LB = elb_name("MyElb", "0a1b2c3d", "eucalyptus", "mallee.test")


def test_names_are_eucalyptus_forms() -> None:
    assert NAMES.private_name("10.111.1.5") == "euca-10-111-1-5.eucalyptus.internal"
    assert NAMES.public_name("203.0.113.5") == "euca-203-0-113-5.eucalyptus.mallee.test"
    assert NAMES.public_name(None) == ""
    assert LB == "myelb-0a1b2c3d.eucalyptus.elb.mallee.test"


def test_an_instance_name_spells_its_address_once() -> None:
    assert NAMES.address_in("euca-10-111-1-5.eucalyptus.internal.") == (False, "10.111.1.5")
    assert NAMES.address_in("EUCA-203-0-113-5.eucalyptus.mallee.test") == (True, "203.0.113.5")
    assert NAMES.address_in("euca-010-111-1-5.eucalyptus.internal") is None
    assert NAMES.address_in("euca-10-111-1-256.eucalyptus.internal") is None
    assert NAMES.address_in("euca-10-111-1-5.example.com") is None


@pytest.mark.parametrize("bad", ["", "a..b", "-a.b", "a_b.c", "x" * 64 + ".com"])
def test_a_domain_must_be_a_dns_name(bad: str) -> None:
    with pytest.raises(ValueError):
        check_domain(bad)


RECORDS = build(
    NAMES,
    ELB_DOMAIN,
    [("10.111.1.5", "203.0.113.5", False), ("10.0.0.4", "203.0.113.6", True), (None, None, False)],
    [(LB, "203.0.113.20"), (LB, "203.0.113.21"), (LB, None)],
)


def test_records_hold_edge_private_names_public_names_and_balancers() -> None:
    assert RECORDS.lookup("euca-10-111-1-5.eucalyptus.internal") == ("10.111.1.5",)
    assert RECORDS.lookup("euca-203-0-113-5.eucalyptus.mallee.test.") == ("203.0.113.5",)
    # A user VPC's private addresses overlap other VPCs': only its public name is the cloud's.
    assert RECORDS.lookup("euca-10-0-0-4.eucalyptus.internal") == ()
    assert RECORDS.lookup("euca-203-0-113-6.eucalyptus.mallee.test") == ("203.0.113.6",)
    assert RECORDS.lookup(LB.upper()) == ("203.0.113.20", "203.0.113.21")
    assert RECORDS.in_zone("anything.eucalyptus.internal")
    assert not RECORDS.in_zone("example.com")


def _ask(answerer: Answerer, name: str, kind: str = "A") -> dns.message.Message:
    reply = answerer.answer(dns.message.make_query(name, kind).to_wire())
    assert reply is not None
    return dns.message.from_wire(reply)


def test_the_server_answers_its_names_with_authority() -> None:
    answerer = Answerer([])
    answerer.records = RECORDS
    reply = _ask(answerer, LB)
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert sorted(r.address for r in reply.answer[0]) == ["203.0.113.20", "203.0.113.21"]
    assert _ask(answerer, "euca-10-111-1-9.eucalyptus.internal").rcode() == dns.rcode.NXDOMAIN
    nodata = _ask(answerer, "euca-10-111-1-5.eucalyptus.internal", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer


def test_a_miss_asks_for_fresh_records_before_saying_nxdomain() -> None:
    answerer = Answerer([])
    answerer.records = build(NAMES, ELB_DOMAIN, [], [])
    misses: list[str] = []

    def reload() -> bool:
        misses.append("reloaded")
        answerer.records = RECORDS
        return True

    answerer.on_miss = reload
    reply = _ask(answerer, LB)
    assert misses == ["reloaded"]
    assert sorted(r.address for r in reply.answer[0]) == ["203.0.113.20", "203.0.113.21"]


@pytest.fixture
def upstream() -> Iterator[int]:
    """A resolver on loopback answering every A query with 192.0.2.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                wire, peer = sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(wire)
            reply = dns.message.make_response(query)
            reply.answer.append(
                dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.1")
            )
            sock.sendto(reply.to_wire(), peer)

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


def test_other_names_go_to_the_host_resolver(upstream: int) -> None:
    answerer = Answerer(["127.0.0.1"], upstream_port=upstream)
    answerer.records = RECORDS
    reply = _ask(answerer, "www.example.com")
    assert [r.address for r in reply.answer[0]] == ["192.0.2.1"]
    # Without a resolver that replies: SERVFAIL, not silence.
    assert _ask(Answerer([]), "www.example.com").rcode() == dns.rcode.SERVFAIL


def test_garbage_gets_no_answer() -> None:
    assert Answerer([]).answer(b"\x00\x01garbage") is None


def test_host_resolvers_are_read_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search x\nnameserver 10.255.255.53\nnameserver bogus\nnameserver ::1\n")
    assert host_resolvers(conf) == ["10.255.255.53", "::1"]
