"""Who may see what: every selector takes a Scope built from the user, never a bare queryset."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from doudi.core.choices import PERSONAL_DATA_ROLES, REGISTRY_BULK_ROLES, REGISTRY_WRITE_ROLES, Role
from doudi.core.errors import PermissionDenied
from doudi.core.models import Region, User


@dataclass(frozen=True)
class Scope:
    user_id: int
    username: str
    role: str
    region_code: str
    region_path: str

    @property
    def reads_personal_data(self) -> bool:
        return self.role in PERSONAL_DATA_ROLES

    @property
    def writes_registry(self) -> bool:
        return self.role in REGISTRY_WRITE_ROLES

    @property
    def bulk_registry(self) -> bool:
        return self.role in REGISTRY_BULK_ROLES

    def regions(self) -> QuerySet[Region]:
        return Region.objects.filter(path__startswith=self.region_path)

    def covers(self, region: Region) -> bool:
        return region.path.startswith(self.region_path)

    def require_personal(self) -> None:
        if not self.reads_personal_data:
            raise PermissionDenied("您的角色只能查看汇总统计，不能查看个人记录")

    def require_registry_write(self) -> None:
        if not self.writes_registry:
            raise PermissionDenied("您的角色不能修改户籍登记信息")

    def require_bulk(self) -> None:
        if not self.bulk_registry:
            raise PermissionDenied("您的角色不能批量导入或导出")


def scope_for(user: User) -> Scope:
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied("请先登录")
    if user.region_id is None:
        raise PermissionDenied("您的账号未绑定管辖区域，请联系系统管理员")
    region = user.region
    assert region is not None
    return Scope(
        user_id=user.pk, username=user.username, role=user.role, region_code=region.code, region_path=region.path
    )


def system_scope() -> Scope:
    """The province-wide scope used by command-line operators and jobs (an administrator's scope)."""
    root = Region.objects.filter(parent__isnull=True).order_by("code").first()
    if root is None:
        raise PermissionDenied("区划数据尚未初始化")
    return Scope(user_id=0, username="system", role=Role.ADMIN, region_code=root.code, region_path=root.path)
