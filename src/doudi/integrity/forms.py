"""Forms of the integrity pages: they parse the input; the integrity services validate it and name the field at
fault (doudi.web.forms.ServiceForm). Each action on a finding carries the finding's `version` (optimistic
locking). Also the downloadable staff-list template, built from the importer's own column list."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from doudi.integrity import imports, selectors
from doudi.integrity.choices import CheckCode, FindingStatus, StaffKind
from doudi.integrity.services import MAX_RESOLUTION
from doudi.registry import spreadsheet
from doudi.web.forms import Choices, DateInput, ServiceForm, set_choices, with_blank

STATUS_FILTERS: Choices = [
    (selectors.STATUS_OPEN, _("待处理和已指派")),
    *FindingStatus.choices,
    (selectors.STATUS_ALL, _("全部状态")),
]
TEMPLATE_FORMATS = ("xlsx", "csv")


class FindingFilterForm(forms.Form):
    check = forms.ChoiceField(label=_("核查项目"), required=False)
    status = forms.ChoiceField(label=_("处理状态"), required=False)
    region = forms.ChoiceField(label=_("区域"), required=False)
    assignee = forms.ChoiceField(label=_("承办人"), required=False)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, regions: Choices, assignees: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "check", [("", _("全部核查项目")), *CheckCode.choices])
        set_choices(self, "status", STATUS_FILTERS)
        set_choices(self, "region", [("", _("全部区域")), *regions])
        set_choices(
            self,
            "assignee",
            [("", _("全部")), (selectors.ASSIGNEE_NONE, _("尚未指派")), *[(str(k), v) for k, v in assignees]],
        )


class FindingActionForm(ServiceForm):
    """An action on one finding: its version travels with the form; a stale one is refused (409)."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class AssignForm(FindingActionForm):
    marked = frozenset({"assignee_id"})
    assignee_id = forms.TypedChoiceField(
        label=_("承办人"),
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("管辖该村（社区）的乡镇（街道）审核人或县级工作人员"),
    )

    def __init__(self, *args: Any, assignees: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "assignee_id", with_blank(assignees))

    def clean_assignee_id(self) -> int:
        value: int | None = self.cleaned_data.get("assignee_id")
        if value is None:
            raise forms.ValidationError(_("请选择承办人"))
        return value


class ResolveForm(FindingActionForm):
    marked = frozenset({"resolution"})
    resolution = forms.CharField(
        label=_("整改情况"),
        max_length=MAX_RESOLUTION,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("写明已做的处理，如：已停发并追回、已补办近亲属备案、已合并重复登记的人员"),
    )


class DismissForm(FindingActionForm):
    marked = frozenset({"resolution"})
    resolution = forms.CharField(
        label=_("核实结论"),
        max_length=MAX_RESOLUTION,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("写明核实经过和不属实的理由；认定后同一问题不再重复提示"),
    )


class RunForm(ServiceForm):
    checks = forms.MultipleChoiceField(
        label=_("核查项目"),
        choices=CheckCode.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("不选即运行全部核查项目"),
    )
    as_of = forms.DateField(
        label=_("核查基准日"),
        required=False,
        widget=DateInput(format="%Y-%m-%d"),
        help_text=_("默认今天；按该日的死亡、任职和待遇状态核查"),
    )

    def clean_as_of(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get("as_of")
        if day is not None and day > timezone.localdate():
            raise forms.ValidationError(_("核查基准日不能晚于今天"))
        return day


class StaffImportForm(ServiceForm):
    marked = frozenset({"file"})
    file = forms.FileField(
        label=_("名单文件"),
        required=False,
        help_text=_("CSV（UTF-8或GBK编码）或 Excel .xlsx 文件；表头须包含模板中的列"),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if upload is None:
            raise forms.ValidationError(_("请选择要上传的名单文件"))
        return upload


class StaffFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("人员类别"), required=False)
    terms = forms.ChoiceField(label=_("任职情况"), required=False)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "kind", [("", _("全部类别")), *StaffKind.choices])
        set_choices(self, "terms", [("current", _("目前在任")), ("all", _("全部（含已离任）"))])


# ---- the staff-list template --------------------------------------------------------------------------------

TEMPLATE_MEANINGS: dict[str, tuple[str, str]] = {
    "name": ("人员姓名", "不超过40个字"),
    "id_number": ("公民身份号码", "18位（15位旧号码自动升位）；Excel中请将该列设为文本"),
    "kind": ("人员类别", "民政经办人员 或 村（居）委会成员"),
    "region_code": ("任职区划代码", "12位数字；村（居）委会成员填村（社区）代码；须在您的管辖范围内"),
    "position": ("职务", "如：村委会主任、低保专干；可不填"),
    "from_date": ("任职开始日期", "YYYY-MM-DD，不晚于今天"),
    "to_date": ("任职结束日期", "YYYY-MM-DD；仍在任的不填"),
}
TEMPLATE_WIDTHS = {"name": 12, "id_number": 22, "kind": 18, "region_code": 16, "position": 18}
TEXT_COLUMNS = frozenset({"id_number", "region_code", "from_date", "to_date"})
TEMPLATE_TEXT_ROWS = 2000
TEMPLATE_NOTES = (
    "第一个工作表的第一行是表头，从第二行起每行填写一个人员的一段任职。",
    "整个文件全部校验通过才会导入；有任何错误时不导入任何数据，页面列出每处错误的行号、列名和原因。",
    "同一人员、同一类别、同一区划、同一开始日期的任职再次导入时，更新姓名、职务和结束日期。",
    "名单用于核查救助对象与经办人员、村干部的近亲属关系（近亲属备案），请按规定保管，不得外传。",
)


def staff_template(fmt: str) -> bytes:
    """The downloadable template of the staff and cadre list: the importer's headers (no example row, which the
    importer would take for data); the .xlsx has the ID number and code columns as text and a sheet of notes."""
    header = [column.header for column in imports.COLUMNS]
    out = io.BytesIO()
    if fmt == "csv":
        spreadsheet.write_csv(out, header, [])
        return out.getvalue()
    if fmt != "xlsx":
        raise ValueError(fmt)
    notes_rows: list[list[str]] = [["列名", "含义", "取值或格式", "是否必填"]]
    for column in imports.COLUMNS:
        meaning, allowed = TEMPLATE_MEANINGS[column.key]
        notes_rows.append([column.header, meaning, allowed, "是" if column.required else "否"])
    notes_rows.append([])
    notes_rows.extend([line] for line in TEMPLATE_NOTES)
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "经办人员和村干部名单"
    sheet.append(header)
    for index, column in enumerate(imports.COLUMNS):
        sheet.column_dimensions[spreadsheet.column_letter(index)].width = TEMPLATE_WIDTHS.get(column.key, 14)
        sheet.cell(row=1, column=index + 1).font = Font(bold=True)
        if column.key in TEXT_COLUMNS:
            # Whole columns pre-formatted as text, so Excel never turns an ID number into 4.69E+17.
            for row in range(2, TEMPLATE_TEXT_ROWS + 2):
                sheet.cell(row=row, column=index + 1).number_format = "@"
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("填写说明")
    for line in notes_rows:
        notes.append(line)
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 16
    notes.column_dimensions["C"].width = 60
    workbook.save(out)
    return out.getvalue()
