"""One domain error for every layer below HTTP (architecture §3.5)."""

from __future__ import annotations


class ApplicationError(Exception):
    """A refusal a user can act on: a stable code, a Chinese message and the field (and row) concerned."""

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        row: int | None = None,
        status: int = 422,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.row = row
        self.status = status
        self.extra = extra or {}

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"code": self.code, "message": self.message, "field": self.field}
        if self.row is not None:
            data["row"] = self.row
        data.update(self.extra)
        return data


class NotFound(ApplicationError):
    def __init__(self, message: str = "记录不存在或不在您的管辖范围内", field: str | None = None) -> None:
        super().__init__("not_found", message, field, status=404)


class PermissionDenied(ApplicationError):
    def __init__(self, message: str = "您没有执行此操作的权限", field: str | None = None) -> None:
        super().__init__("forbidden", message, field, status=403)


class StaleEdit(ApplicationError):
    def __init__(self, message: str = "该记录已被其他用户修改，请刷新后重新编辑；您的修改未保存。") -> None:
        super().__init__("stale_edit", message, "version", status=409)
