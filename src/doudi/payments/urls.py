"""Payroll pages under /payments/."""

from django.urls import URLPattern, path, register_converter

from doudi.payments import views


class BankFileFormat:
    regex = "csv|xlsx"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(BankFileFormat, "bank_file_format")

app_name = "payments"
urlpatterns: list[URLPattern] = [
    path("", views.payroll_list, name="payroll_list"),
    path("generate/", views.payroll_generate, name="payroll_generate"),
    path("<int:payroll_id>/", views.payroll_detail, name="payroll_detail"),
    path("<int:payroll_id>/approve/", views.payroll_approve, name="payroll_approve"),
    path("<int:payroll_id>/differences/approve/", views.differences_approve, name="differences_approve"),
    path("<int:payroll_id>/bank-files/", views.bank_files_export, name="bank_files_export"),
    path("<int:payroll_id>/bank-files.<bank_file_format:fmt>", views.bank_files, name="bank_files"),
    path("<int:payroll_id>/returns/", views.return_import, name="return_import"),
    path("<int:payroll_id>/reissue/", views.reissue, name="reissue"),
    path("accounts/<int:household_id>/", views.bank_account, name="bank_account"),
    path("households/<int:household_id>/", views.household_payments, name="household_payments"),
]
