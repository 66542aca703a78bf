"""Forms of the verification pages: they parse input; the services validate it and name the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.verification.choices import SOURCE_KIND_CHOICES, NoticeMethod, Outcome, RunKind
from doudi.web.forms import DateInput, ServiceForm, with_blank


def date_input() -> DateInput:
    return DateInput(format="%Y-%m-%d")


class VerificationForm(ServiceForm):
    # 403/404 and a stale edit or a finished step (409) become the error page; the rest goes on the field.
    propagate = (NotFound, PermissionDenied, StaleEdit)

    def apply_error(self, exc: ApplicationError) -> None:
        if exc.status == 409 and not isinstance(exc, StaleEdit):
            self.add_error(None, exc.message)
            return
        super().apply_error(exc)


class SourceUploadForm(VerificationForm):
    marked = frozenset({"kind", "department", "file", "period_start", "period_end", "received_on"})
    kind = forms.ChoiceField(label=_("数据类别"), choices=with_blank(SOURCE_KIND_CHOICES), required=False)
    department = forms.CharField(label=_("提供部门"), max_length=100, required=False)
    region_code = forms.ChoiceField(label=_("覆盖区域"), required=False)
    period_start = forms.DateField(label=_("数据起始日期"), required=False, widget=date_input())
    period_end = forms.DateField(label=_("数据截止日期"), required=False, widget=date_input())
    received_on = forms.DateField(label=_("接收日期"), required=False, widget=date_input())
    file = forms.FileField(
        label=_("数据文件"), required=False, help_text=_("CSV（UTF-8 或 GBK）、Excel（.xlsx）或 Parquet；列名见说明")
    )
    note = forms.CharField(label=_("备注"), max_length=300, required=False)

    def __init__(self, *args: Any, regions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["region_code"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = regions


class RunCreateForm(VerificationForm):
    kind = forms.ChoiceField(
        label=_("核对类型"),
        choices=[(k.value, k.label) for k in (RunKind.REGION, RunKind.CASELOAD, RunKind.YEARLY)],
    )
    region_code = forms.ChoiceField(
        label=_("核对范围"),
        required=False,
        help_text=_("县、乡镇（街道）或村（社区）；村级核对适用于一个村的年度复查"),
        error_messages={"invalid_choice": _("核对范围应为您管辖范围内的县、乡镇（街道）或村（社区）")},
    )
    as_of = forms.DateField(label=_("核对基准日"), required=False, widget=date_input(), help_text=_("默认今天"))
    overrides = forms.CharField(
        label=_("参数覆盖（可选）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("每行一个“参数路径=取值”，如 dibao.assets.max_vehicles=1；仅用于测算，不填则按现行参数"),
    )

    def __init__(self, *args: Any, regions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["region_code"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = regions

    def override_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for number, line in enumerate((self.cleaned_data.get("overrides") or "").splitlines(), start=1):
            if not line.strip():
                continue
            path, sep, value = line.partition("=")
            if not sep or not path.strip() or not value.strip():
                raise ApplicationError("invalid_parameter", f"第{number}行应为“参数路径=取值”", "overrides")
            out[path.strip()] = value.strip()
        return out


class NoticeForm(VerificationForm):
    marked = frozenset({"notified_on", "method"})
    notified_on = forms.DateField(label=_("告知日期"), required=False, widget=date_input())
    method = forms.ChoiceField(label=_("告知方式"), choices=with_blank(NoticeMethod.choices), required=False)
    note = forms.CharField(label=_("说明"), max_length=500, required=False)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class DisputeForm(VerificationForm):
    marked = frozenset({"received_on", "statement"})
    aliases = {"files": "evidence"}
    received_on = forms.DateField(label=_("提出日期"), required=False, widget=date_input())
    statement = forms.CharField(
        label=_("异议理由"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    evidence = MultipleFileField(
        label=_("证据材料"), required=False, help_text=_("PDF 或图片（JPG、PNG），每个不超过10 MB，最多5个")
    )


class OutcomeForm(VerificationForm):
    marked = frozenset({"outcome", "reason"})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    outcome = forms.ChoiceField(label=_("核实结论"), choices=with_blank(Outcome.choices), required=False)
    reason = forms.CharField(
        label=_("核实情况"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    outcome_on = forms.DateField(label=_("核实日期"), required=False, widget=date_input(), help_text=_("默认今天"))


class StepCompleteForm(VerificationForm):
    aliases = {"acted_on": "acted_on"}
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    acted_on = forms.DateField(label=_("办理日期"), required=False, widget=date_input(), help_text=_("默认今天"))
    comment = forms.CharField(label=_("办理意见"), max_length=2000, required=False)
