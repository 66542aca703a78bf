"""The `doudi` command: serve, demo, seed, import, export (and the rules commands: assess, params, simulate)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from doudi.batch.cli import register as register_batch_commands
from doudi.rules.cli import register as register_rules_commands

app = typer.Typer(help="doudi 兜底 — 社会救助管理系统命令行", no_args_is_help=True, add_completion=False)

DEMO_PASSWORD = "doudi-demo-2026"  # noqa: S105 - printed on purpose: demo logins only
DEMO_USERS = [
    ("village", "village_worker", "村（社区）经办人", "village"),
    ("township", "township_reviewer", "乡镇（街道）审核人", "township"),
    ("county", "county_approver", "县级审批人", "county"),
    ("verifier", "county_verifier", "县级核对中心", "county"),
    ("supervisor", "supervisor", "市/省级监管", "province"),
    ("admin", "admin", "系统管理员", "province"),
]


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "doudi.config.settings")
    import django

    django.setup()


def _fail(exc: Any) -> None:
    """Print a domain error as JSON on stderr and exit 2 (bad input)."""
    import json

    typer.echo(json.dumps(exc.as_dict(), ensure_ascii=False), err=True)
    raise typer.Exit(2)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    typer.echo("数据库已迁移到最新版本")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", help="端口")] = 8000,
    workers: Annotated[int, typer.Option(help="gunicorn 工作进程数")] = 2,
) -> None:
    """Serve the system with gunicorn (static files by WhiteNoise)."""
    _django()
    from gunicorn.app.base import BaseApplication

    from doudi.config.wsgi import application

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)
            self.cfg.set("timeout", 120)

        def load(self) -> Any:
            return application

    typer.echo(f"doudi 已启动： http://{host}:{port}/  （Ctrl+C 停止）")
    _App().run()


@app.command()
def seed(
    households: Annotated[int, typer.Option(help="合成家庭户数")] = 20_000,
    seed_value: Annotated[int, typer.Option("--seed", help="随机种子（相同种子生成相同数据）")] = 2018,
    batch_size: Annotated[int, typer.Option(help="批量写入的行数")] = 50_000,
) -> None:
    """Seed a deterministic synthetic province (townships, villages, households, persons, items)."""
    _django()
    from doudi.registry.seed import seed_province

    result = seed_province(households=households, seed=seed_value, batch_size=batch_size,
                           progress=lambda msg: typer.echo(msg, err=True))
    typer.echo(result.summary())


def _demo_users() -> list[tuple[str, str, str]]:
    from doudi.core.models import Region, User
    from doudi.core.scope import system_scope
    from doudi.core.services import user_create

    village = Region.objects.filter(level="village", path__startswith="/460000000000/469001000000/").order_by(
        "code").first()
    if village is None:
        village = Region.objects.filter(level="village").order_by("code").first()
    if village is None:
        raise RuntimeError("no villages: seed the province first")
    assert village.parent is not None and village.parent.parent is not None
    regions = {"village": village, "township": village.parent, "county": village.parent.parent,
               "province": Region.objects.get(code="460000000000")}
    scope = system_scope()
    created = []
    from django.db import transaction

    with transaction.atomic():
        for username, role, label, level in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                user_create(scope=scope, username=username, password=DEMO_PASSWORD, role=role,
                            region_code=regions[level].code, full_name=f"演示{label}")
            created.append((username, label, regions[level].name))
    return created


def _caseload(today: str | None, seed_value: int, per_mille: int, *, summary: bool = True) -> None:
    """Seed the demo caseload (doudi.cases.demo) unless cases exist; prints its summary as JSON."""
    import datetime as dt
    import json

    from django.utils import timezone

    from doudi.cases.demo import seed_caseload
    from doudi.core.errors import ApplicationError

    try:
        on = dt.date.fromisoformat(today) if today else timezone.localdate()
    except ValueError:
        _fail(ApplicationError("invalid_option", "--today 应为 YYYY-MM-DD", "--today"))
        return
    try:
        result = seed_caseload(today=on, seed=seed_value, per_mille=per_mille,
                               progress=lambda msg: typer.echo(msg, err=True))
    except ApplicationError as exc:
        _fail(exc)
        return
    if result.get("skipped"):
        typer.echo(f"已有 {result['applications']:,} 件案件，不再生成演示案件", err=True)
    elif summary:
        typer.echo(json.dumps(result, ensure_ascii=False))


@app.command()
def demo(
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    households: Annotated[int, typer.Option(help="首次运行时生成的合成家庭户数")] = 20_000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="只准备数据，不启动服务")] = False,
    caseload: Annotated[bool, typer.Option("--caseload/--no-caseload",
                                           help="生成演示案件、救助对象和其他示例数据（已有时跳过）")] = True,
) -> None:
    """Set up the embedded demo (migrate, seed on first run, demo logins, demo caseload) and serve it."""
    _django()
    from django.core.management import call_command

    from doudi.registry.models import Household

    call_command("migrate", interactive=False, verbosity=0)
    if not Household.objects.exists():
        typer.echo(f"首次运行：正在生成 {households:,} 户合成演示数据……", err=True)
        from doudi.registry.seed import seed_province

        seed_province(households=households, seed=2018, progress=lambda msg: typer.echo(msg, err=True))
    users = _demo_users()
    tracking: list[str] = []
    if caseload:
        from django.utils import timezone

        from doudi.cases.models import Application
        from doudi.web.demo import seed_extras

        if not Application.objects.exists():
            typer.echo("首次运行：正在生成演示案件和救助对象……", err=True)
            _caseload(None, 2018, 40, summary=False)
        # accounts, contacts, complaints, verification sources: each part only when its data is missing
        extras = seed_extras(today=timezone.localdate(), progress=lambda msg: typer.echo(msg, err=True))
        tracking = extras.get("complaints", {}).get("tracking_numbers", [])
    typer.echo(f"\n演示账号（密码均为 {DEMO_PASSWORD}）：")
    for username, label, region in users:
        typer.echo(f"  {username:<11} {label:<14} {region}")
    typer.echo("\n信息公开（无需登录）：/public/    投诉举报：/public/complaints/")
    if len(tracking) > 1:  # the sample hotline complaint, answered (web/demo.py)
        typer.echo(f"投诉举报查询码示例（已答复）：{tracking[1]}")
    if not no_serve:
        serve(host="127.0.0.1", port=port, workers=2)


@app.command("seed-caseload")
def seed_caseload_command(
    today: Annotated[str | None, typer.Option("--today", help="基准日期 YYYY-MM-DD（默认今天，不能晚于今天）")] = None,
    seed_value: Annotated[int, typer.Option("--seed", help="随机种子（相同种子生成相同数据）")] = 2018,
    per_mille: Annotated[int, typer.Option(help="背景救助对象占家庭户数的千分比")] = 40,
) -> None:
    """Add the demo caseload to a seeded province: real cases in the demo township, background recipients
    province-wide (skipped when any case exists), then the sample contacts, complaints and verification data
    (each skipped when present). Creates the demo logins if they are missing."""
    _django()
    from django.utils import timezone

    from doudi.web.demo import seed_extras

    _demo_users()
    _caseload(today, seed_value, per_mille)
    seed_extras(today=timezone.localdate(), seed=seed_value, progress=lambda msg: typer.echo(msg, err=True))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV 或 Excel 文件")],
    kind: Annotated[str, typer.Option(help="households（家庭及成员）或 regions（乡镇村区划）")] = "households",
    errors_out: Annotated[Path | None, typer.Option("--errors", help="错误报告输出文件（CSV）")] = None,
) -> None:
    """Import households (with members) or regions: all rows or none, with a row-level error report."""
    _django()
    from doudi.core.errors import ApplicationError
    from doudi.core.scope import system_scope
    from doudi.registry.imports import import_file

    try:
        report = import_file(scope=system_scope(), path=file, kind=kind)
    except ApplicationError as exc:
        _fail(exc)
        return
    if not report.ok:
        if errors_out:
            errors_out.write_bytes(report.error_csv())
        typer.echo(report.summary(), err=True)
        raise typer.Exit(2)
    typer.echo(report.summary())


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="输出文件（.csv 或 .xlsx）")],
    region: Annotated[str, typer.Option(help="区划代码（导出该区域内的家庭）")] = "460000000000",
) -> None:
    """Export households and members of a region to CSV or Excel (formula cells neutralised)."""
    _django()
    from doudi.core.errors import ApplicationError
    from doudi.core.scope import system_scope
    from doudi.registry.exports import export_households

    try:
        count = export_households(scope=system_scope(), path=out, region_code=region)
    except ApplicationError as exc:
        _fail(exc)
        return
    typer.echo(f"已导出 {count} 户到 {out}")


@app.command()
def payroll(
    county: Annotated[str, typer.Option(help="县级区划代码（12位）")],
    month: Annotated[str, typer.Option(help="发放月份 YYYY-MM")],
    program: Annotated[str, typer.Option(help="救助项目")] = "dibao",
) -> None:
    """Generate (or bring up to date) a county's monthly payroll; rerunning changes nothing."""
    _django()
    import json

    from doudi.core.errors import ApplicationError
    from doudi.core.scope import system_scope
    from doudi.payments.selectors import payroll_differences
    from doudi.payments.services import payroll_generate

    scope = system_scope()
    try:
        result = payroll_generate(scope=scope, county_code=county, program=program, month=month)
    except ApplicationError as exc:
        _fail(exc)
        return
    pending = payroll_differences(scope=scope, payroll_id=result.pk).count()
    typer.echo(json.dumps({"payroll": result.pk, "status": result.status, "lines": result.line_count,
                           "total_amount": str(result.total_amount), "pending_differences": pending},
                          ensure_ascii=False))


integrity_app = typer.Typer(help="比对核查（人情保、关系保等问题线索）", no_args_is_help=True)
app.add_typer(integrity_app, name="integrity")


@integrity_app.command("run")
def integrity_run_command(
    county: Annotated[str | None, typer.Option(help="只核查该县（12位区划代码）；不填为全省")] = None,
    check: Annotated[list[str] | None, typer.Option("--check", help="只运行指定核查项目（可重复）")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="核查基准日 YYYY-MM-DD（默认今天）")] = None,
) -> None:
    """Run the integrity checks; prints a JSON summary (new findings by check, open findings in scope)."""
    _django()
    import datetime as dt
    import json

    from doudi.core.errors import ApplicationError
    from doudi.integrity.selectors import finding_counts
    from doudi.integrity.services import integrity_run, operator_scope

    try:
        today = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        _fail(ApplicationError("invalid_option", "--as-of 应为 YYYY-MM-DD", "--as-of"))
        return
    try:
        scope = operator_scope(region_code=county)
        run = integrity_run(scope=scope, checks=check or None, today=today)
    except ApplicationError as exc:
        _fail(exc)
        return
    counts = finding_counts(scope=scope)
    summary = {
        "run": run.pk,
        "region": scope.region_code,
        "as_of": run.as_of.isoformat(),
        "checks": run.checks,
        "new_findings": run.counts,
        "new_total": sum(run.counts.values()),
        "open_findings": {code: by.get("open", 0) + by.get("assigned", 0) for code, by in counts.items()},
    }
    typer.echo(json.dumps(summary, ensure_ascii=False))


@integrity_app.command("import-staff")
def integrity_import_staff(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="经办人员和村干部名单（CSV 或 Excel）")],
) -> None:
    """Import the assistance-staff and village-cadre list: all rows or none (exit 2 naming the row and column)."""
    _django()
    import json

    from doudi.core.errors import ApplicationError
    from doudi.integrity.services import operator_scope, staff_import_file

    try:
        result = staff_import_file(scope=operator_scope(), path=file)
    except ApplicationError as exc:
        _fail(exc)
        return
    typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))


@app.command("verification-worker")
def verification_worker(
    once: Annotated[bool, typer.Option("--once", help="执行完当前排队的核对批次后退出")] = False,
    poll: Annotated[float, typer.Option(help="队列为空时的轮询间隔（秒）")] = 5.0,
) -> None:
    """Execute queued verification runs (docs/verification-service.md): `manage.py verification_worker`."""
    _django()
    from django.core.management import call_command

    call_command("verification_worker", *(["--once"] if once else []), "--poll", str(poll))


complaints_app = typer.Typer(help="投诉举报", no_args_is_help=True)
app.add_typer(complaints_app, name="complaints")


@complaints_app.command("remind")
def complaints_remind(
    date: Annotated[str | None, typer.Option(help="按该日期计算（默认今天），YYYY-MM-DD")] = None,
    county: Annotated[str | None, typer.Option(help="只处理该县（市、区）的12位区划代码")] = None,
) -> None:
    """Record the due and overdue reminders of complaints (docs/complaints.md): `manage.py complaints_remind`."""
    _django()
    from django.core.management import call_command

    args = [f"--date={date}"] if date else []
    args += [f"--county={county}"] if county else []
    call_command("complaints_remind", *args)


register_rules_commands(app)
register_batch_commands(app)


def main() -> None:
    app(prog_name="doudi")


if __name__ == "__main__":
    main()
