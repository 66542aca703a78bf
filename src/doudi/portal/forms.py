"""The staff form for a county's public contact details; the service validates (docs/portal.md)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from doudi.web.forms import ServiceForm


class ContactForm(ServiceForm):
    marked = frozenset({"office", "address", "phone", "hotline"})
    county_code = forms.CharField(widget=forms.HiddenInput, max_length=12)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    office = forms.CharField(label=_("办理机构"), max_length=100, required=False)
    address = forms.CharField(label=_("办公地址"), max_length=200, required=False)
    phone = forms.CharField(label=_("咨询电话"), max_length=40, required=False)
    hotline = forms.CharField(label=_("投诉举报电话"), max_length=40, required=False)
    hours = forms.CharField(label=_("办公时间"), max_length=100, required=False)
