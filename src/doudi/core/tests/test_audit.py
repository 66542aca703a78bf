import pytest
from django.db import DatabaseError, connection, transaction

from doudi.core.models import AuditLog
from doudi.core.services import audit_log_create


def _entry(scope):
    with transaction.atomic():
        return audit_log_create(scope=scope, action="create", subject_type="t", subject_id=1,
                                before={"a": 1, "b": 2}, after={"a": 1, "b": 3})


def test_the_audit_log_keeps_only_changed_fields(county_scope):
    entry = _entry(county_scope)
    assert entry.before == {"b": 2}
    assert entry.after == {"b": 3}
    assert entry.actor_name == "ca"


def test_the_application_cannot_change_or_delete_audit_records(county_scope):
    entry = _entry(county_scope)
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditLog.objects.filter(pk=entry.pk).update(note="x")
    with pytest.raises(TypeError):
        AuditLog.objects.all().delete()


# serialized_rollback: the flush after a transactional test would also wipe the migrated regions.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_audit_outside_a_transaction_is_refused(county_scope):
    with pytest.raises(RuntimeError):
        audit_log_create(scope=county_scope, action="create", subject_type="t", subject_id=1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_postgresql_refuses_update_and_delete_on_the_audit_table(county_scope):
    entry = _entry(county_scope)
    for sql in ("UPDATE core_auditlog SET note = 'x' WHERE id = %s", "DELETE FROM core_auditlog WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [entry.pk])
