"""The county's public contact details for the portal: office data, never a person's."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from doudi.core.models import Region, User


class CountyContact(models.Model):
    """Where and how the public reaches a county's civil-affairs bureau (办事指南: 地点、联系方式; the complaints
    hotline the plan requires to be published). One row per county-level unit, edited by its county approver or an
    administrator (`services.county_contact_set`, audited)."""

    region = models.OneToOneField(
        Region, primary_key=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("县级区划")
    )
    office = models.CharField(_("办理机构"), max_length=100)
    address = models.CharField(_("办公地址"), max_length=200)
    phone = models.CharField(_("咨询电话"), max_length=40)
    hotline = models.CharField(_("投诉举报电话"), max_length=40)
    hours = models.CharField(_("办公时间"), max_length=100, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("县级公开联系方式")
