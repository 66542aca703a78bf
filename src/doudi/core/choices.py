from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("省")
    CITY = "city", _("市")
    COUNTY = "county", _("县（区）")
    TOWNSHIP = "township", _("乡镇（街道）")
    VILLAGE = "village", _("村（社区）")


LEVEL_DEPTH = {"province": 0, "city": 1, "county": 2, "township": 3, "village": 4}


class Role(models.TextChoices):
    VILLAGE_WORKER = "village_worker", _("村（社区）经办人")
    TOWNSHIP_REVIEWER = "township_reviewer", _("乡镇（街道）审核人")
    COUNTY_APPROVER = "county_approver", _("县级审批人")
    COUNTY_VERIFIER = "county_verifier", _("县级核对中心")
    SUPERVISOR = "supervisor", _("市/省级监管")
    ADMIN = "admin", _("系统管理员")


# Roles that may read personal records in their region; supervisors see aggregates only.
PERSONAL_DATA_ROLES = frozenset(
    {Role.VILLAGE_WORKER, Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.COUNTY_VERIFIER, Role.ADMIN}
)
# Roles that may create and edit registry records.
REGISTRY_WRITE_ROLES = frozenset({Role.VILLAGE_WORKER, Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.ADMIN})
# Roles that may import and export registry files.
REGISTRY_BULK_ROLES = frozenset({Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.ADMIN})


class AuditAction(models.TextChoices):
    CREATE = "create", _("新增")
    UPDATE = "update", _("修改")
    DELETE = "delete", _("删除")
    END = "end", _("终止")
    IMPORT = "import", _("导入")
    EXPORT = "export", _("导出")
    LOGIN = "login", _("登录")
    LOGIN_FAILED = "login_failed", _("登录失败")
