"""政民互动's own tests (Django's runner; tests/test_hudong_app.py runs them in the unit tier)."""

import os
from io import StringIO
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, TestCase, override_settings

from liuyan.models import Question

CITIZEN = "198.19.0.10"
STAFF = "198.18.64.20"


def _post(client, **fields):
    data = {"name": "张三", "contact": "", "title": "路灯不亮", "body": "人民路的路灯坏了。"}
    data.update(fields)
    return client.post("/hudong/liuyan/", data, REMOTE_ADDR=CITIZEN)


@override_settings(HUDONG_RATE_LIMIT=3, HUDONG_MAX_CHARS=100, HUDONG_STAFF_NETWORKS=["198.18.64.0/18"])
class PublicTests(TestCase):
    def test_the_form_carries_a_csrf_token(self):
        r = self.client.get("/hudong/")
        self.assertEqual(r.status_code, 200)
        self.assertContains(r, 'name="csrfmiddlewaretoken"')
        self.assertContains(r, 'action="/hudong/liuyan/"')

    def test_a_post_without_the_csrf_token_is_refused_and_nothing_stored(self):
        client = Client(enforce_csrf_checks=True)
        r = _post(client)
        self.assertEqual(r.status_code, 403)
        self.assertContains(r, "CSRF", status_code=403)
        self.assertEqual(Question.objects.count(), 0)

    def test_a_post_with_the_token_is_received_in_chinese(self):
        client = Client(enforce_csrf_checks=True)
        token = client.get("/hudong/").cookies["csrftoken"].value
        r = client.post("/hudong/liuyan/", {"csrfmiddlewaretoken": token, "name": "李四",
                                            "title": "办事指南", "body": "如何办理居住证？"},
                        REMOTE_ADDR=CITIZEN)
        self.assertContains(r, "received")
        q = Question.objects.get()
        self.assertEqual((q.name, q.title, q.body, q.address),
                         ("李四", "办事指南", "如何办理居住证？", CITIZEN))

    def test_an_oversized_body_is_refused_with_a_message_and_nothing_stored(self):
        r = _post(self.client, body="长" * 101)
        self.assertEqual(r.status_code, 400)
        self.assertContains(r, "不得超过 100 字", status_code=400)
        self.assertEqual(Question.objects.count(), 0)

    def test_missing_fields_are_refused(self):
        r = _post(self.client, title="")
        self.assertEqual(r.status_code, 400)
        self.assertContains(r, "请填写此项", status_code=400)
        self.assertEqual(Question.objects.count(), 0)

    def test_the_rate_limit_refuses_the_next_post_from_one_address(self):
        for _ in range(3):
            self.assertEqual(_post(self.client).status_code, 200)
        r = _post(self.client)
        self.assertEqual(r.status_code, 429)
        self.assertEqual(Question.objects.count(), 3)
        other = self.client.post("/hudong/liuyan/", {"name": "王五", "title": "t", "body": "b"},
                                 REMOTE_ADDR="198.19.0.11")
        self.assertEqual(other.status_code, 200)

    def test_unanswered_questions_are_not_public_and_answered_ones_are_escaped(self):
        _post(self.client, title="<script>alert(1)</script>")
        self.assertNotContains(self.client.get("/hudong/"), "alert(1)")
        Question.objects.update(answer="已修复<b>", answered_at="2026-01-01T00:00:00Z")
        r = self.client.get("/hudong/")
        self.assertContains(r, "&lt;script&gt;alert(1)&lt;/script&gt;")
        self.assertNotContains(r, "<script>")
        self.assertContains(r, "已修复&lt;b&gt;")

    @override_settings(HUDONG_BEHIND_PROXY=True)
    def test_behind_the_proxy_the_address_is_nginx_s_x_real_ip(self):
        self.client.post("/hudong/liuyan/", {"name": "a", "title": "t", "body": "b"},
                         REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="198.19.7.7")
        self.assertEqual(Question.objects.get().address, "198.19.7.7")


@override_settings(HUDONG_STAFF_NETWORKS=["198.18.64.0/18"])
class StaffTests(TestCase):
    def setUp(self):
        self.user = get_user_model().objects.create_user("staff", password="a-long-password-1",
                                                         is_staff=True)
        self.q = Question.objects.create(name="张三", title="问题", body="内容", address=CITIZEN)

    def test_staff_pages_refuse_addresses_outside_the_staff_networks(self):
        for path in ("/hudong/guanli/", "/hudong/guanli/login/", f"/hudong/guanli/{self.q.pk}/"):
            self.assertEqual(self.client.get(path, REMOTE_ADDR=CITIZEN).status_code, 403, path)

    def test_staff_must_log_in(self):
        r = self.client.get("/hudong/guanli/", REMOTE_ADDR=STAFF)
        self.assertEqual(r.status_code, 302)
        self.assertIn("/hudong/guanli/login/", r["Location"])

    def test_a_non_staff_user_is_refused(self):
        get_user_model().objects.create_user("citizen", password="a-long-password-2")
        self.client.login(username="citizen", password="a-long-password-2")
        self.assertEqual(self.client.get("/hudong/guanli/", REMOTE_ADDR=STAFF).status_code, 403)

    def test_staff_answer_and_the_answer_is_published(self):
        client = Client(enforce_csrf_checks=True)
        page = client.get("/hudong/guanli/login/", REMOTE_ADDR=STAFF)
        token = page.cookies["csrftoken"].value
        r = client.post("/hudong/guanli/login/", {"csrfmiddlewaretoken": token, "username": "staff",
                                                  "password": "a-long-password-1"}, REMOTE_ADDR=STAFF)
        self.assertEqual(r.status_code, 302)
        self.assertContains(client.get("/hudong/guanli/", REMOTE_ADDR=STAFF), "问题")
        token = client.cookies["csrftoken"].value
        r = client.post(f"/hudong/guanli/{self.q.pk}/", {"csrfmiddlewaretoken": token, "answer": "已处理。"},
                        REMOTE_ADDR=STAFF)
        self.assertEqual(r.status_code, 302)
        self.q.refresh_from_db()
        self.assertEqual((self.q.answer, self.q.answered_by), ("已处理。", "staff"))
        self.assertContains(self.client.get("/hudong/"), "已处理。")

    def test_an_empty_answer_is_refused(self):
        self.client.login(username="staff", password="a-long-password-1")
        r = self.client.post(f"/hudong/guanli/{self.q.pk}/", {"answer": ""}, REMOTE_ADDR=STAFF)
        self.assertEqual(r.status_code, 400)
        self.q.refresh_from_db()
        self.assertIsNone(self.q.answered_at)


class StaffCommandTests(TestCase):
    def _run(self, password):
        out = StringIO()
        with mock.patch.dict(os.environ, {"HUDONG_STAFF_PASSWORD": password}):
            call_command("hudong_staff", "staff", stdout=out)
        return out.getvalue().strip()

    def test_creates_then_is_unchanged_then_changes_the_password(self):
        self.assertEqual(self._run("first-password-123"), "changed")
        self.assertEqual(self._run("first-password-123"), "unchanged")
        self.assertEqual(self._run("second-password-456"), "changed")
        user = get_user_model().objects.get(username="staff")
        self.assertTrue(user.is_staff and user.check_password("second-password-456"))
