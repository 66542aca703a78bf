"""Login, logout and login throttling."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from doudi.core.models import AuditLog
from doudi.testing.fixtures import PASSWORD


def post_login(client: Client, username: str, password: str, **extra):
    return client.post(reverse("web:login"), {"username": username, "password": password, **extra})


def test_the_login_page_renders_in_chinese(db):
    response = Client().get(reverse("web:login"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "工作人员登录" in text
    assert "兜底 · 社会救助管理系统" in text


def test_a_correct_password_logs_in_records_an_audit_entry_and_redirects_home(users):
    client = Client()
    response = post_login(client, "ca", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")
    assert AuditLog.objects.filter(action="login", actor=users.county_approver).count() == 1
    home = client.get(reverse("web:home"))
    assert home.status_code == 200
    assert "县级审批人" in home.content.decode()


def test_login_follows_a_local_next_but_not_an_external_one(users):
    response = post_login(Client(), "ca", PASSWORD, next="/households/")
    assert response["Location"] == "/households/"
    response = post_login(Client(), "ca", PASSWORD, next="https://evil.example/")
    assert response["Location"] == reverse("web:home")


def test_a_wrong_password_and_an_unknown_user_get_the_same_message(users):
    wrong = post_login(Client(), "ca", "not-the-password")
    unknown = post_login(Client(), "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.content.decode()
    assert "用户名或密码错误" in unknown.content.decode()
    assert "_auth_user_id" not in wrong.client.session


def test_after_the_maximum_failures_even_the_right_password_is_refused(users, settings):
    # given: three failures allowed inside the window
    settings.DOUDI_LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(2):
        assert "用户名或密码错误" in post_login(client, "vw", "wrong-password").content.decode()
    # when: the third failure reaches the limit
    third = post_login(client, "vw", "wrong-password")
    # then: the user is told the account is locked, and the right password no longer works
    assert "暂时锁定" in third.content.decode()
    locked = post_login(client, "VW", PASSWORD)
    assert locked.status_code == 429
    assert "暂时锁定" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # other accounts are not affected
    assert post_login(Client(), "ca", PASSWORD).status_code == 302


def test_failures_outside_the_window_do_not_lock(users, settings):
    settings.DOUDI_LOGIN_MAX_FAILURES = 2
    settings.DOUDI_LOGIN_LOCK_SECONDS = 0
    for _ in range(3):
        post_login(Client(), "vw", "wrong-password")
    assert post_login(Client(), "vw", PASSWORD).status_code == 302


def test_a_successful_login_clears_earlier_failures(users, settings):
    settings.DOUDI_LOGIN_MAX_FAILURES = 3
    for _ in range(2):
        post_login(Client(), "vw", "wrong-password")
    assert post_login(Client(), "vw", PASSWORD).status_code == 302
    for _ in range(2):
        post_login(Client(), "vw", "wrong-password")
    assert post_login(Client(), "vw", PASSWORD).status_code == 302


def test_empty_fields_are_refused_at_the_field(db):
    response = post_login(Client(), "", "")
    assert response.status_code == 422
    assert 'id="id_username_error"' in response.content.decode()


def test_logout_is_a_post_and_ends_the_session(client_for):
    client = client_for("county_approver")
    assert client.get(reverse("web:logout")).status_code == 405
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302
    assert client.get(reverse("web:home")).status_code == 302


def test_pages_redirect_an_anonymous_visitor_to_login(db):
    response = Client().get(reverse("web:household_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


def test_an_htmx_request_without_a_session_is_sent_to_login_by_header(db):
    response = Client().get(reverse("web:household_list"), headers={"HX-Request": "true"})
    assert response["HX-Redirect"].startswith(reverse("web:login"))
