"""Operator changes to policy parameters: dated values layered over the YAML parameter files.

Rows are append-only history: a value is never edited or deleted; withdrawing a future-dated value changes its
status (audited), so every decision can be re-traced to the values recorded when it was made.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ChangeStatus(models.TextChoices):
    ACTIVE = "active", _("生效")
    WITHDRAWN = "withdrawn", _("已撤回")


class ParameterValueChange(models.Model):
    path = models.CharField(_("参数路径"), max_length=120)
    # The region key as the rules package resolves it: "default", or a 6-, 9- or 12-digit code.
    region_code = models.CharField(_("区划代码"), max_length=12)
    area = models.CharField(_("城乡"), max_length=8, blank=True, default="")
    effective_from = models.DateField(_("生效日期"))
    value = models.CharField(_("取值"), max_length=500)
    reference = models.CharField(_("法规依据"), max_length=500)
    reason = models.TextField(_("原因"), blank=True, default="")
    status = models.CharField(_("状态"), max_length=16, choices=ChangeStatus.choices, default=ChangeStatus.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_by_name = models.CharField(max_length=150, blank=True, default="")
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["path", "effective_from", "id"]
        indexes = [models.Index(fields=["path", "region_code", "area", "effective_from"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(area__in=["", "urban", "rural"]), name="policy_change_area_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.path}@{self.region_code}/{self.area or '-'} {self.effective_from}: {self.value}"
