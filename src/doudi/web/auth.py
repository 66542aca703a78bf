"""Password login with throttling per username (core.services keeps the failure records)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _

from doudi.core.errors import ApplicationError
from doudi.core.models import User
from doudi.core.scope import scope_for
from doudi.core.services import login_failure_record, login_is_locked, login_success_record


def _client(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def _locked() -> ApplicationError:
    minutes = max(1, settings.DOUDI_LOGIN_LOCK_SECONDS // 60)
    return ApplicationError(
        "login_locked",
        _("登录失败次数过多，该账号已被暂时锁定，请%(minutes)s分钟后再试。") % {"minutes": minutes},
        None,
        status=429,
    )


def login_attempt(*, request: HttpRequest, username: str, password: str) -> User:
    """Check the password unless the username is locked; record the outcome.

    The same message is given for an unknown username and a wrong password, so that the form does not reveal
    which accounts exist; a locked username is refused even with the right password.
    """
    username = (username or "").strip()
    if not username or not password:
        raise ApplicationError("required", _("请输入用户名和密码"), "username" if not username else "password")
    if login_is_locked(username=username):
        raise _locked()
    user = authenticate(request, username=username, password=password)
    if not isinstance(user, User):
        login_failure_record(username=username, client=_client(request))
        if login_is_locked(username=username):
            raise _locked()
        raise ApplicationError("login_failed", _("用户名或密码错误"), None, status=401)
    scope = scope_for(user)
    login_success_record(scope=scope)
    return user
