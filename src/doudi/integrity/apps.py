from django.apps import AppConfig


class IntegrityConfig(AppConfig):
    name = "doudi.integrity"
    label = "integrity"
    verbose_name = "救助对象比对核查"
