"""政民互动 (the portal's public Q&A), end to end on the running lab: a citizen on the Internet host
posts over HTTPS through the egress firewall (CSRF token from the form first), a staff member
answers from a host of the city's extranet, the answer is published; bad input is refused with
nothing stored, the staff pages refuse the Internet, and the rate limit refuses one post too many.

Marked serial: the checks post to the lab's database (and clean up what they post)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
from pathlib import Path

import pytest
from stackfacts import city, connect, egress_host, facts, internet_hosts, selected, services, tcp_probe

from govnet import model as m
from govnet import standard
from govnet.addressing import address

pytestmark = pytest.mark.serial

CA_ON_CLIENT = "/tmp/govnet-city-ca.crt"
# the hudong role's defaults: the database, the staff login and its settings file on the host
DATABASE, STAFF_USER, SETTINGS = "hudong", "wangluozhongxin", "/etc/hudong/hudong.env"
TOKEN = f"govnet-verify-{secrets.token_hex(4)}"

CLIENT = """\
import http.client, json, socket, ssl, sys, urllib.parse
s = json.loads(sys.argv[1])
ctx = ssl.create_default_context(cafile=s["cafile"])
conn = http.client.HTTPSConnection(s["name"], 443, context=ctx, timeout=15)
conn.sock = ctx.wrap_socket(socket.create_connection((s["address"], 443), timeout=15),
                            server_hostname=s["name"])
headers = dict(s["headers"])
body = None
if s["form"] is not None:
    body = urllib.parse.urlencode([tuple(pair) for pair in s["form"]]).encode()
    headers["Content-Type"] = "application/x-www-form-urlencoded"
conn.request(s["method"], s["path"], body=body, headers=headers)
r = conn.getresponse()
print(json.dumps({"status": r.status, "headers": r.getheaders(),
                  "body": r.read().decode("utf-8", "replace")}))
"""


class Browser:
    """HTTPS from a lab host to the portal, keeping cookies as a browser would (CSRF, session)."""

    def __init__(self, host: str, addr: str, name: str):
        self.host, self.addr, self.name, self.cookies = host, addr, name, {}

    def request(self, method: str, path: str, form: list | None = None, referer: bool = True) -> dict:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if referer:
            headers["Referer"] = f"https://{self.name}{path}"
        spec = {"address": self.addr, "name": self.name, "cafile": CA_ON_CLIENT, "method": method,
                "path": path, "form": form, "headers": headers}
        out = json.loads(connect(self.host).check_output(
            f"python3 -c {shlex.quote(CLIENT)} {shlex.quote(json.dumps(spec))}"))
        for k, v in out["headers"]:
            if k.lower() == "set-cookie":
                name, _, value = v.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
        return out

    def get(self, path: str) -> dict:
        return self.request("GET", path)

    def post(self, path: str, fields: dict, token: bool = True) -> dict:
        form = list(fields.items())
        if token:
            form.append(("csrfmiddlewaretoken", self.cookies["csrftoken"]))
        return self.request("POST", path, form)


def _portal() -> tuple[str, str]:
    if not services().get(m.Service.hudong.value):
        pytest.skip("the stack has no 政民互动 (hudong)")
    portal = services()[m.Service.hudong.value][0]
    if portal.host not in selected():
        pytest.skip("the portal is not in this selection")
    return portal.host, portal.address


def _sql(host: str, query: str) -> str:
    return connect(host).check_output(
        f"runuser -u postgres -- psql -d {DATABASE} -v ON_ERROR_STOP=1 -tAc {shlex.quote(query)}")


def _mine(host: str) -> int:
    return int(_sql(host, f"select count(*) from liuyan_question where title like '{TOKEN}%'"))


def _install_ca(portal: str, host: str) -> None:
    ca = connect(portal).file("/etc/nginx/tls/city-ca.crt").content_string
    connect(host).check_output(f"cat > {CA_ON_CLIENT} <<'EOF'\n{ca}EOF")


@pytest.fixture(scope="module")
def lab():
    """The portal host, a citizen on the Internet (through the egress) and a staff member on a
    host of the city's extranet (straight to the portal); this run's questions removed after."""
    portal, portal_addr = _portal()
    egress = egress_host()
    if not internet_hosts() or not egress:
        pytest.skip("no Internet host or egress firewall")
    staff = next((h for h in selected() if facts(h).role == "server" and h != portal
                  and facts(h).zone == facts(portal).zone and facts(h).site_kind == "datacenter"), None)
    if staff is None:
        pytest.skip("no other server of the portal's zone in this selection")
    citizen = internet_hosts()[0]
    for h in (citizen, staff):
        _install_ca(portal, h)
    name = city().portal_server_name
    # earlier runs' questions (an interrupted run) would count against this run's rate limit
    _sql(portal, "delete from liuyan_question where title like 'govnet-verify-%'")
    env = dict(line.split("=", 1) for line in
               connect(portal).check_output(f"cat {SETTINGS}").splitlines() if "=" in line
               and not line.startswith("#"))
    state = {"portal": portal, "staff_host": staff,
             "citizen": Browser(citizen, address(facts(egress).internet.address), name),
             "staff": Browser(staff, portal_addr, name), "limit": int(env["HUDONG_RATE_LIMIT"]),
             "max_chars": int(env["HUDONG_MAX_CHARS"])}
    yield state
    _sql(portal, f"delete from liuyan_question where title like '{TOKEN}%'")


def test_the_form_carries_a_csrf_token(lab):
    r = lab["citizen"].get("/hudong/")
    assert r["status"] == 200
    assert 'name="csrfmiddlewaretoken"' in r["body"] and 'action="/hudong/liuyan/"' in r["body"]
    assert "csrftoken" in lab["citizen"].cookies


def test_a_post_without_the_token_is_refused_and_nothing_stored(lab):
    r = lab["citizen"].post("/hudong/liuyan/", {"name": "张三", "title": f"{TOKEN} 无令牌",
                                                 "body": "没有 CSRF 令牌"}, token=False)
    assert r["status"] == 403 and "CSRF" in r["body"]
    assert _mine(lab["portal"]) == 0


def test_a_question_in_chinese_is_received(lab):
    title = f"{TOKEN} 人民路路灯<script>alert('hudong')</script>"
    r = lab["citizen"].post("/hudong/liuyan/", {"name": "张三", "contact": "13800000000",
                                                 "title": title, "body": "人民路的路灯坏了一周。"})
    assert r["status"] == 200 and "received" in r["body"], r["body"][:500]
    stored = _sql(lab["portal"], "select name || '|' || title || '|' || body || '|' || host(address) "
                  f"from liuyan_question where title like '{TOKEN}%'")
    name, stored_title, body, addr = stored.split("|")
    assert (name, stored_title, body) == ("张三", title, "人民路的路灯坏了一周。")
    # the citizen's own address (the egress publishes the portal without hiding it): the rate
    # limit and the staff pages' network check see the Internet as the Internet
    assert addr == address(facts(lab["citizen"].host).interfaces[0].address), addr
    lab["question"] = int(_sql(lab["portal"],
                               f"select id from liuyan_question where title like '{TOKEN} 人民路%'"))
    lab["title"] = title


def test_an_oversized_body_is_refused_with_a_message_and_nothing_stored(lab):
    before = _mine(lab["portal"])
    r = lab["citizen"].post("/hudong/liuyan/", {"name": "李四", "title": f"{TOKEN} 太长",
                                                 "body": "长" * (lab["max_chars"] + 1)})
    assert r["status"] == 400
    assert f"不得超过 {lab['max_chars']} 字" in r["body"]
    assert _mine(lab["portal"]) == before


@pytest.mark.parametrize("path", ["/hudong/guanli/", "/hudong/guanli/login/"])
def test_the_staff_pages_refuse_the_internet(lab, path):
    r = lab["citizen"].get(path)
    assert r["status"] == 403
    assert "wangluozhongxin" not in r["body"] and "csrfmiddlewaretoken" not in r["body"]


def test_gunicorn_listens_on_loopback_only(lab):
    port = standard.SERVICE_PORTS[m.Service.hudong][0][1]
    listening = {line.split()[3] for line in
                 connect(lab["portal"]).check_output(f"ss -Hltn 'sport = :{port}'").splitlines()}
    assert listening == {f"127.0.0.1:{port}"}, listening
    assert tcp_probe(lab["staff_host"], _portal()[1], port) != "open"


def test_its_database_is_on_the_portal_host_with_no_network_listener(lab):
    """PostgreSQL of the extranet's portal host, socket only; the intranet's 一库 never holds it."""
    assert connect(lab["portal"]).check_output("ss -Hltn 'sport = :5432'") == ""
    for db in services().get(m.Service.database.value, []):
        if db.host in selected():
            names = connect(db.host).check_output("runuser -u postgres -- psql -tAc "
                                                  "'select datname from pg_database'").split()
            assert DATABASE not in names


def test_staff_answer_from_the_extranet(lab):
    if "question" not in lab:
        pytest.skip("no question was received")
    staff = lab["staff"]
    page = staff.get("/hudong/guanli/login/")
    assert page["status"] == 200 and "csrfmiddlewaretoken" in page["body"]
    password = (Path(os.environ["GOVNET_VERIFY_SECRETS"]) / f"hudong-{STAFF_USER}").read_text().strip()
    r = staff.post("/hudong/guanli/login/", {"username": STAFF_USER, "password": password,
                                              "next": "/hudong/guanli/"})
    assert r["status"] == 302, r["body"][:300]
    waiting = staff.get("/hudong/guanli/")
    assert waiting["status"] == 200 and f'data-id="{lab["question"]}"' in waiting["body"]
    r = staff.post(f"/hudong/guanli/{lab['question']}/", {"answer": "已转城管局，路灯三日内修复。"})
    assert r["status"] == 302, r["body"][:300]
    assert _sql(lab["portal"], f"select answered_by from liuyan_question where id = {lab['question']}") \
        == STAFF_USER


def test_the_answer_is_published_with_the_title_escaped(lab):
    if "question" not in lab:
        pytest.skip("no question was received")
    body = lab["citizen"].get("/hudong/")["body"]
    assert "已转城管局，路灯三日内修复。" in body
    assert f"{TOKEN} 人民路路灯&lt;script&gt;alert(&#x27;hudong&#x27;)&lt;/script&gt;" in body
    assert "<script>" not in body


def test_the_rate_limit_refuses_one_post_too_many(lab):
    citizen, portal = lab["citizen"], lab["portal"]
    accepted = _mine(portal)  # this run's questions so far count against the limit
    for i in range(accepted, lab["limit"]):
        r = citizen.post("/hudong/liuyan/", {"name": "王五", "title": f"{TOKEN} 第{i + 1}条",
                                              "body": "频率测试"})
        assert r["status"] == 200, (i, r["body"][:300])
    r = citizen.post("/hudong/liuyan/", {"name": "王五", "title": f"{TOKEN} 超出", "body": "频率测试"})
    assert r["status"] == 429 and re.search(r"每小时最多提交 \d+ 条", r["body"])
    assert _mine(portal) == lab["limit"]
