"""The document exchange (公文交换) by mail: the city sends an S/MIME-signed document to 卧龙区's
mailbox; a client in 卧龙区's intranet fetches it over IMAPS (checked against the city CA) and
verifies the signature against the city CA and the document's checksum. One unit cannot read
another's mailbox or send as another, nothing is relayed outside the city's domain, and the
extranet and the Internet cannot reach the exchange."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shlex
import subprocess
import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from exchange import STATE, Exchange, ca_pem, exchange, fetch, lan_address, password, send
from stackfacts import connect, eventually, facts, selected, services, tcp_probe

SENDER_HOST = "dc-infra1"  # the city's side: a host of the data center's intranet
COUNTY = "wolong"


def _mail():
    mail = exchange()
    if mail is None or mail.server.host not in selected():
        pytest.skip("no document exchange in this selection")
    return mail


def _box(site: str):
    return next((b for b in _mail().mailboxes if b.site == site), None)


def _signed_document(token: str, mail, county: str) -> tuple[bytes, str]:
    """A document with Chinese text, S/MIME-signed on the controller with the city's (dc's) unit
    certificate, to ``county``: (the message, the document's SHA-256)."""
    doc = (f"示例市人民政府办公室\n关于{token}的通知\n各县区：请于五个工作日内报送。\n").encode()
    part = EmailMessage()
    part.add_attachment(doc, maintype="application", subtype="octet-stream",
                        filename=f"tongzhi-{token}.txt")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "part.eml"
        src.write_bytes(part.as_bytes())
        signed = subprocess.run(
            ["openssl", "cms", "-sign", "-in", str(src), "-signer", str(STATE / "pki" / "smime-dc.crt"),
             "-inkey", str(STATE / "pki" / "smime-dc.key"), "-from", f"dc@{mail.domain}",
             "-to", f"{county}@{mail.domain}", "-subject", f"公文 {token}"],
            check=True, capture_output=True).stdout
    return signed, hashlib.sha256(doc).hexdigest()


# on the receiving host: verify the S/MIME message against the city CA (openssl cms), take the
# document out of the verified content and print its checksum and the signer's certificate
VERIFY = r"""
import base64, email, hashlib, json, os, subprocess, sys, tempfile
msg, ca = base64.b64decode(sys.argv[1]), sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:
    p = lambda n: os.path.join(tmp, n)
    open(p("ca"), "w").write(ca); open(p("msg"), "wb").write(msg)
    r = subprocess.run(["openssl", "cms", "-verify", "-CAfile", p("ca"), "-purpose", "smimesign",
                        "-in", p("msg"), "-out", p("content"), "-signer", p("signer")],
                       capture_output=True, text=True)
    out = {"verified": r.returncode == 0, "stderr": r.stderr.strip(), "sha256": "", "signer": ""}
    if r.returncode == 0:
        content = email.message_from_bytes(open(p("content"), "rb").read())
        docs = [x.get_payload(decode=True) for x in content.walk() if x.get_filename()]
        out["sha256"] = hashlib.sha256(docs[0]).hexdigest() if docs else ""
        out["signer"] = subprocess.run(["openssl", "x509", "-in", p("signer"), "-noout", "-subject",
                                        "-ext", "subjectAltName", "-nameopt", "oneline,-esc_msb"],
                                       capture_output=True, text=True).stdout
print(json.dumps(out))
"""


def _verify_on(host: str, message: bytes) -> dict:
    return json.loads(connect(host).check_output(
        "python3 -c " + shlex.quote(VERIFY) + " " + shlex.quote(base64.b64encode(message).decode())
        + " " + shlex.quote(ca_pem())))


def test_submission_and_imaps_listen_on_the_exchange_address_only():
    mail = _mail()
    listening = {line.split()[3] for line in connect(mail.server.host).check_output(
        "ss -Hltn '( sport = :25 or sport = :110 or sport = :143 or sport = :465 or "
        "sport = :587 or sport = :993 or sport = :995 )'").splitlines()}
    assert listening == {f"{mail.server.address}:{mail.submission_port}",
                         f"{mail.server.address}:{mail.imaps_port}"}, listening


@pytest.mark.parametrize(("plane", "county", "sender"), [
    ("intranet", COUNTY, SENDER_HOST),
    # the extranet's own exchange: 西峡县 joins by IPsec, the city sends from the extranet's server
    ("extranet", "xixia", "dc-infra2"),
])
def test_the_city_sends_a_signed_document_and_the_county_verifies_it(plane, county, sender):
    mail = exchange(plane)
    client = f"{county}-gw1"
    if mail is None or mail.server.host not in selected():
        pytest.skip(f"no document exchange of the {plane} in this selection")
    box = next((b for b in mail.mailboxes if b.site == county), None)
    if box is None or client not in selected() or sender not in selected():
        pytest.skip(f"no {county} mailbox, {client} or {sender} in this selection")
    ex = Exchange(mail)
    source = lan_address(client)  # as a host of the county's LAN connects
    assert source
    before = ex.last_uid(client, county, source)
    token = secrets.token_hex(6)
    message, checksum = _signed_document(token, mail, county)
    sent = ex.send(sender, "dc", f"{county}@{mail.domain}", message)
    assert sent["ok"], sent["error"]

    def arrived():
        got = ex.fetch(client, county, above=before, source=source)
        assert got["ok"], got["error"]
        mine = [raw for raw in map(base64.b64decode, got["messages"].values())
                if token.encode() in raw]
        assert mine, f"no document {token} in {county}'s mailbox yet"
        return mine[0]
    received = eventually(arrived, timeout=60)

    result = _verify_on(client, received)
    assert result["verified"], result["stderr"]
    assert result["sha256"] == checksum
    assert f"email:dc@{mail.domain}" in result["signer"]
    assert next(b for b in mail.mailboxes if b.site == "dc").display_name in result["signer"]

    # the same message with one byte of the document changed fails verification
    text = received.decode("latin-1")  # the subject is raw UTF-8: keep every byte as it is
    body = text.split("\r\n\r\n", 1) if "\r\n\r\n" in text else text.split("\n\n", 1)
    b64 = [line for line in body[1].splitlines() if len(line) >= 40 and " " not in line]
    tampered_line = b64[0][:-2] + ("AA" if b64[0][-2:] != "AA" else "BB")
    tampered = text.replace(b64[0], tampered_line, 1).encode("latin-1")
    assert not _verify_on(client, tampered)["verified"]


def test_one_unit_cannot_read_another_units_mailbox():
    mail = _mail()
    other = next((b for b in mail.mailboxes if b.site and b.site != COUNTY), None)
    client = f"{COUNTY}-gw1"
    if other is None or client not in selected():
        pytest.skip("no second unit or client in this selection")
    source = lan_address(client)
    # wolong's password does not open the other unit's mailbox, nor the other's wolong's
    refused = fetch(client, other.name, secret=password(COUNTY), source=source)
    assert not refused["ok"], refused
    assert "authentication failed" in refused["error"].lower(), refused
    refused = fetch(client, COUNTY, secret=password(other.name), source=source)
    assert not refused["ok"], refused
    # its own login sees its own INBOX only: no shared or other users' folders
    own = fetch(client, COUNTY, above=2**31, source=source)
    assert own["ok"], own["error"]
    assert all(other.name not in line for line in own["mailboxes"]), own["mailboxes"]


def test_a_unit_sends_as_itself_to_the_city_only():
    mail = _mail()
    if SENDER_HOST not in selected() or _box(COUNTY) is None:
        pytest.skip(f"{SENDER_HOST} or the {COUNTY} mailbox is not in this selection")
    note = b"Subject: test\r\n\r\nnot delivered\r\n"
    forged = send(SENDER_HOST, COUNTY, f"dc@{mail.domain}", note, sender=f"dc@{mail.domain}")
    assert not forged["ok"] and "553" in forged["error"], forged  # sender login mismatch
    relay = send(SENDER_HOST, COUNTY, "someone@example.com", note)
    assert not relay["ok"] and "554" in relay["error"], relay  # relay access denied


@pytest.mark.parametrize("outsider", ["dc-infra2", "wancheng-ext1", "internet-citizen1"])
def test_the_extranet_and_the_internet_cannot_reach_the_exchange(outsider):
    mail = _mail()
    if outsider not in selected():
        pytest.skip(f"{outsider} is not in this selection")
    assert mail.server.plane not in facts(outsider).planes
    for port in (mail.submission_port, mail.imaps_port):
        assert tcp_probe(outsider, mail.server.address, port) == "silent"


def test_the_intranet_reaches_the_exchange():
    """The positive side of the probe above: from the intranet the ports answer."""
    mail = _mail()
    server = next((s.host for s in services().get("monitoring", []) if s.plane == mail.server.plane
                   and s.host in selected()), None)
    if server is None:
        pytest.skip("no intranet monitoring server in this selection")
    for port in (mail.submission_port, mail.imaps_port):
        assert tcp_probe(server, mail.server.address, port) == "open"


def test_retention_timer_and_mail_audit_log():
    mail = _mail()
    h = connect(mail.server.host)
    assert h.service("govnet-mail-expire.timer").is_enabled
    assert h.service("govnet-mail-expire.timer").is_running
    conf = h.check_output("doveconf -h mail_plugins")
    assert "mail_log" in conf
