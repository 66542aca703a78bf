"""Code tables of the integrity checks (docs/integrity.md): staff kinds, finding statuses, the checks, and the
parameter tables they read (mutually exclusive programs, programs whose approval needs a verification, and the
GB/T 4761 relation pairs that mean close kin)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffKind(models.TextChoices):
    ASSISTANCE_STAFF = "assistance_staff", _("民政经办人员")
    VILLAGE_CADRE = "village_cadre", _("村（居）委会成员")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    ASSIGNED = "assigned", _("已指派")
    RESOLVED = "resolved", _("已整改")
    DISMISSED = "dismissed", _("经核实无问题")


# A finding in one of these statuses stops the same check from creating another for the same subject.
# Resolved findings do not: if the condition still holds at the next run, it was not resolved.
OPEN_STATUSES = (FindingStatus.OPEN, FindingStatus.ASSIGNED)
SUPPRESSING_STATUSES = (FindingStatus.OPEN, FindingStatus.ASSIGNED, FindingStatus.DISMISSED)


class CheckCode(models.TextChoices):
    DECEASED_RECIPIENT = "deceased_recipient", _("死亡人员仍在享受救助")
    EXCLUSIVE_PROGRAMS = "exclusive_programs", _("重复享受互斥救助项目")
    TWO_HOUSEHOLDS = "two_households", _("同一人员重复登记或同时属于两户")
    UNDECLARED_KIN = "undeclared_kin", _("经办人员或村干部近亲属未备案")
    UNVERIFIED_APPROVAL = "unverified_approval", _("未经信息核对即获批准")


@dataclass(frozen=True)
class Exclusion:
    """Two programs one person may not receive at the same time.

    `household`: the second program is paid to a household, so it counts when the person of the first program
    is a live member of that household.
    """

    first: str
    second: str
    household: bool
    basis: str
    confirmed: bool


# Parameter table (rules-cn.md §3 and §5). Add a row to add a pair; the check reads nothing else.
EXCLUSIVE_PROGRAMS: tuple[Exclusion, ...] = (
    Exclusion(
        "tekun",
        "dibao",
        household=True,
        basis="社会救助暂行办法 第二章、第三章；国发〔2016〕14号：特困人员救助供养与最低生活保障不重复享受"
        "（意见全文未取得，按各地通行做法；rules-cn §3）",
        confirmed=False,
    ),
    Exclusion(
        "tekun",
        "disability_living",
        household=False,
        basis="国发〔2015〕52号及各省实施办法：纳入特困人员救助供养的残疾人不享受两项补贴（rules-cn §5）",
        confirmed=True,
    ),
    Exclusion(
        "tekun",
        "disability_nursing",
        household=False,
        basis="国发〔2015〕52号及各省实施办法：纳入特困人员救助供养的残疾人不享受两项补贴（rules-cn §5）",
        confirmed=True,
    ),
)

# New applications of these programs are approved only after 信息核对 with a passing result and a signed
# authorisation (2012 审核审批办法 arts. 12, 19; 2021 审核确认办法 arts. 9, 17; 特困人员认定办法 2021 as dibao).
VERIFICATION_REQUIRED: dict[str, str] = {
    "dibao": "2012 审核审批办法 arts. 12、19；2021 审核确认办法 arts. 9、17",
    "tekun": "特困人员认定办法（民发〔2021〕43号）：审核确认程序参照最低生活保障",
}

# GB/T 4761-2008 家庭关系代码 grouped by the relation to the head of household. In-laws (女婿 28, 儿媳 38,
# 公婆/岳父母 53–56, 嫂/弟媳/姐夫/妹夫 72/74/76/78, 孙媳/孙女婿 45/46) and great-(grand)children and -parents are
# not 近亲属 and are left out.
RELATION_GROUPS: dict[str, tuple[str, ...]] = {
    "H": ("01", "02"),  # 本人、户主
    "S": ("10", "11", "12"),  # 配偶、夫、妻
    "C": ("20", "21", "22", "23", "24", "25", "26", "27", "29", "30", "31", "32", "33", "34", "35", "36", "37", "39"),
    "G": ("40", "41", "42", "43", "44", "49"),  # 孙子女、外孙子女
    "P": ("50", "51", "52", "57", "58", "59"),  # 父母、继父母、养父母
    "R": ("60", "61", "62", "63", "64", "69"),  # 祖父母、外祖父母
    "B": ("70", "71", "73", "75", "77", "79"),  # 兄弟姐妹
}

# Two members of one household (at any time) whose relations to the head imply 近亲属 between them
# (2012 审核审批办法 art. 14: 配偶、父母、子女、兄弟姐妹、祖父母、外祖父母、孙子女、外孙子女). Ambiguous pairs
# (a child and a grandchild of the head: parent or uncle; grandparent and parent: parent or parent-in-law) are not
# counted. Both orders are listed.
KIN_PAIRS: dict[str, tuple[str, ...]] = {
    "配偶": ("HS", "SH", "PP"),
    "父母子女": ("HC", "CH", "SC", "CS", "HP", "PH", "PB", "BP"),
    "兄弟姐妹": ("HB", "BH", "CC", "BB"),
    "祖孙": ("HG", "GH", "HR", "RH", "SG", "GS", "CP", "PC"),
}
SAME_HOUSEHOLD = "同户成员"
