"""Regions, users bound to a region and a role, the append-only audit log, login throttling, rate counters."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from doudi.core.choices import AuditAction, RegionLevel, Role


class Region(models.Model):
    """A node of the administrative tree with its 12-digit statistical code (GB/T 2260 + township/village).

    Scoping uses the materialised `path` (codes from the root, '/'-separated), not the code prefix: 洋浦
    (460400499000) is its own civil-affairs unit directly under the province although its code sits
    under 儋州.
    """

    code = models.CharField(_("区划代码"), max_length=12, primary_key=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("层级"), max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=80, unique=True, help_text="/code/code/…/ from the province down")
    synthetic = models.BooleanField(_("合成演示数据"), default=False)
    separate_unit = models.BooleanField(_("单列民政单位"), default=False)
    poverty_county = models.BooleanField(_("国定贫困县"), default=False)
    poverty_exit_date = models.DateField(_("贫困县摘帽日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("行政区划")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(code__regex=r"^[0-9]{12}$"), name="region_code_12_digits"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class AddressCode(models.Model):
    """6-digit address codes an ID number may carry: current ones and obsolete ones (old IDs keep them)."""

    code = models.CharField(max_length=6, primary_key=True)
    name = models.CharField(max_length=64)
    obsolete = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("身份证地址码")


class User(AbstractUser):
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices, default=Role.VILLAGE_WORKER)
    region = models.ForeignKey(Region, null=True, on_delete=models.PROTECT, verbose_name=_("管辖区域"))
    full_name = models.CharField(_("姓名"), max_length=64, blank=True)

    objects: ClassVar[UserManager[User]] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("用户")


class AuditLogQuerySet(models.QuerySet["AuditLog"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("the audit log is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit log is append-only")


class AuditLog(models.Model):
    """Who did what to which record, with before/after values; written in the same transaction as the change.

    Append-only: the model refuses updates and deletes, and on PostgreSQL a trigger refuses UPDATE/DELETE.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    region = models.ForeignKey(Region, null=True, on_delete=models.PROTECT, related_name="+")
    household_id = models.BigIntegerField(null=True, db_index=True)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)
    note = models.CharField(max_length=500, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计日志")
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit log is append-only")


class LoginAttempt(models.Model):
    """Failed logins per username, for throttling (a client address is stored hashed, never in the clear)."""

    username = models.CharField(max_length=150, db_index=True)
    client_hash = models.CharField(max_length=64)
    at = models.DateTimeField(auto_now_add=True, db_index=True)


class RateCounter(models.Model):
    """Requests of one client in one window of one rate-limit bucket (core/ratelimit.py).

    ``key`` is ``bucket:hash:window start``; the client's address is part of it only as a keyed hash. Rows of
    ended windows are deleted when a new window starts. Kept in the database so that every worker process and
    every application server counts against one budget.
    """

    key = models.CharField(max_length=120, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)


class ApiToken(models.Model):
    """A personal API token. Only the SHA-256 of the secret is stored: the plain token is shown once, at creation.

    A token acts as its user, with the user's current role and region, so changing or deactivating the user
    takes effect on the token at once.
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens", verbose_name=_("用户"))
    name = models.CharField(_("名称"), max_length=64)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用时间"), null=True, blank=True)
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("API令牌")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(token_hash__regex=r"^[0-9a-f]{64}$"),  # noqa: S106 - a pattern, not a secret
                name="api_token_hash_is_sha256_hex",
            ),
        ]
