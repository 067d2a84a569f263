"""Reading and sending the city exchange's mail from a lab host: python3's imaplib and smtplib run
there (a unit's client), with the city CA passed in the command, so nothing is left on the host."""

from __future__ import annotations

import base64
import json
import os
import shlex
from pathlib import Path

from stackfacts import connect, facts, services

from govnet.addressing import address

STATE = Path(os.environ.get("GOVNET_VERIFY_SECRETS", "/nonexistent")).parent


def exchange(plane: str | None = None):
    """The document exchange's facts (its server's) of a plane, by default the intranet's (the
    city's 公文交换 proper) or else the first; None if there is none."""
    found = {}
    for s in services().get("docexchange", []):
        if facts(s.host).mail is not None:
            found.setdefault(s.plane, facts(s.host).mail)
    if plane is not None:
        return found.get(plane)
    return found.get("intranet") or next(iter(found.values()), None)


def ca_pem() -> str:
    return (STATE / "pki" / "city-ca.crt").read_text()


def password(box: str) -> str:
    """A mailbox's password from the controller's secrets (the mail role made it)."""
    return (STATE / "secrets" / f"mail-{box}").read_text().strip()


def lan_address(host: str) -> str:
    """The host's address on its LAN (a router's LAN side, where the unit's own clients are)."""
    lan = [i for i in facts(host).interfaces if i.kind == "lan"]
    return address(lan[0].address) if lan else ""


# IMAPS from a given source address, checked against the city CA by the exchange's name; prints
# JSON: {"ok": bool, "error": str, "messages": {uid: base64 of the message}} for the messages
# whose UID is above the given one (all with 0)
IMAP = r"""
import base64, imaplib, json, socket, ssl, sys
server, name, port, source, user, pw, above, ca = sys.argv[1:9]
ctx = ssl.create_default_context(cadata=ca)
class Client(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(source, 0) if source else None)
        return self.ssl_context.wrap_socket(sock, server_hostname=name)
out = {"ok": False, "error": "", "messages": {}, "mailboxes": [], "last": 0}
try:
    m = Client(server, int(port), ssl_context=ctx, timeout=15)
    m.login(user, pw)
    out["mailboxes"] = [x.decode() for x in m.list()[1] if x]
    m.select("INBOX", readonly=True)
    every = m.uid("search", None, "ALL")[1][0].split()
    out["last"] = max((int(u) for u in every), default=0)
    typ, data = m.uid("search", None, "UID %d:*" % (int(above) + 1))
    for uid in data[0].split():
        if int(uid) <= int(above):
            continue
        typ, msg = m.uid("fetch", uid, "(RFC822)")
        out["messages"][uid.decode()] = base64.b64encode(msg[0][1]).decode()
    m.logout()
    out["ok"] = True
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
"""

# submission with STARTTLS checked against the city CA; prints JSON {"ok", "error"}
SMTP = r"""
import base64, json, smtplib, ssl, sys
server, name, port, user, pw, sender, rcpt, msg, ca = sys.argv[1:10]
ctx = ssl.create_default_context(cadata=ca)
out = {"ok": False, "error": ""}
try:
    s = smtplib.SMTP(server, int(port), timeout=15)
    s._host = name  # the name the certificate is checked against
    s.starttls(context=ctx)
    s.login(user, pw)
    s.sendmail(sender, [rcpt], base64.b64decode(msg))
    s.quit()
    out["ok"] = True
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
"""


class Exchange:
    """One plane's document exchange, as a unit's mail client on a lab host uses it."""

    def __init__(self, mail):
        self.mail = mail

    def fetch(self, host: str, box: str, *, secret: str | None = None, above: int = 0,
              source: str = "") -> dict:
        """From ``host``, log in as mailbox ``box`` over IMAPS (with its own password, or
        ``secret``), from ``source``; the messages above UID ``above``."""
        mail = self.mail
        args = [mail.server.address, mail.server_name, str(mail.imaps_port), source,
                f"{box}@{mail.domain}", secret if secret is not None else password(box),
                str(above), ca_pem()]
        out = connect(host).check_output("python3 -c " + shlex.quote(IMAP) + " "
                                         + " ".join(shlex.quote(a) for a in args))
        return json.loads(out)

    def send(self, host: str, box: str, rcpt: str, message: bytes, *, sender: str | None = None) -> dict:
        """From ``host``, submit ``message`` as mailbox ``box`` to ``rcpt`` over submission."""
        mail = self.mail
        user = f"{box}@{mail.domain}"
        args = [mail.server.address, mail.server_name, str(mail.submission_port), user, password(box),
                sender or user, rcpt, base64.b64encode(message).decode(), ca_pem()]
        out = connect(host).check_output("python3 -c " + shlex.quote(SMTP) + " "
                                         + " ".join(shlex.quote(a) for a in args))
        return json.loads(out)

    def last_uid(self, host: str, box: str, source: str = "") -> int:
        got = self.fetch(host, box, above=2**31, source=source)
        assert got["ok"], got["error"]
        return got["last"]


def fetch(host: str, box: str, **how) -> dict:
    """:meth:`Exchange.fetch` on the first exchange."""
    return Exchange(exchange()).fetch(host, box, **how)


def send(host: str, box: str, rcpt: str, message: bytes, **how) -> dict:
    """:meth:`Exchange.send` on the first exchange."""
    return Exchange(exchange()).send(host, box, rcpt, message, **how)


def last_uid(host: str, box: str, source: str = "") -> int:
    """:meth:`Exchange.last_uid` on the first exchange."""
    return Exchange(exchange()).last_uid(host, box, source)
