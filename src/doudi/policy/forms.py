from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from doudi.web.forms import DateInput, ServiceForm, set_choices

AREA_CHOICES = [("", _("不分城乡")), ("urban", _("城市")), ("rural", _("农村"))]


class ParameterValueForm(ServiceForm):
    marked = frozenset({"region_code", "effective_from", "value", "reference"})
    region_code = forms.CharField(
        label=_("区划代码"), max_length=12, required=False, help_text=_("12位区划代码，或 default 表示全省默认值")
    )
    area = forms.ChoiceField(label=_("城乡"), choices=AREA_CHOICES, required=False)
    effective_from = forms.CharField(label=_("生效日期"), required=False, help_text=_("YYYY-MM-DD，不得早于今天"))
    value = forms.CharField(label=_("取值"), max_length=500, required=False)
    reference = forms.CharField(label=_("法规依据"), max_length=500, required=False)
    reason = forms.CharField(label=_("原因"), widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ParameterImportForm(ServiceForm):
    marked = frozenset({"file"})
    file = forms.FileField(
        label=_("文件"),
        error_messages={"required": _("请选择要导入的文件"), "empty": _("上传的文件是空的")},
        help_text=_(
            "CSV（UTF-8）或 Excel（.xlsx），列：参数路径、区划代码、城乡、生效日期、取值、法规依据、原因；"
            "全部行通过校验才会导入"
        ),
    )


class WithdrawForm(ServiceForm):
    reason = forms.CharField(label=_("撤回原因"), required=False, max_length=500)


class SimulationForm(ServiceForm):
    """One what-if change to a parameter; the selector validates it (the choices only shape the page)."""

    marked = frozenset({"path", "mode", "amount"})
    path = forms.ChoiceField(label=_("调整的参数"), required=False)
    mode = forms.ChoiceField(label=_("调整方式"), required=False)
    amount = forms.CharField(
        label=_("数值"), max_length=40, required=False, help_text=_("百分比填 5 表示 5%；金额单位为元")
    )
    regions = forms.MultipleChoiceField(
        label=_("适用区域"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("不选则适用于您管辖的全部区域；可多选"),
    )
    effective_from = forms.CharField(
        label=_("生效日期"), required=False, widget=DateInput, help_text=_("YYYY-MM-DD，按该日的在册家庭测算")
    )

    def __init__(
        self,
        *args: Any,
        parameters: list[tuple[str, str]],
        regions: list[tuple[str, str]],
        modes: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "path", [(p, f"{d}（{p}）") for p, d in parameters])
        set_choices(self, "mode", list(modes.items()))
        set_choices(self, "regions", regions)
        self.fields["amount"].widget.attrs.update(inputmode="decimal")
