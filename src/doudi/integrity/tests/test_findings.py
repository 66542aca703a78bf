"""Following up findings: who may assign, resolve and dismiss them, in which region, with which version."""

from __future__ import annotations

import pytest

from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import AuditLog
from doudi.core.scope import scope_for
from doudi.integrity import selectors
from doudi.integrity.models import Finding
from doudi.integrity.services import finding_assign, finding_dismiss, finding_resolve, integrity_run
from doudi.integrity.tests.conftest import TODAY, case, household_in


@pytest.fixture
def finding(tree, ca):
    case(household_in(ca, tree.village), authorised=False)
    integrity_run(scope=ca, checks=["unverified_approval"], today=TODAY)
    return Finding.objects.get()


def test_a_county_approver_assigns_a_finding_to_the_township_reviewer(finding, ca, users):
    # When the county approver hands the finding to the township reviewer of its township
    assigned = finding_assign(scope=ca, finding_id=finding.pk, version=1, assignee_id=users.township_reviewer.pk)
    # Then it is assigned, its version moved on, and the change is audited
    finding.refresh_from_db()
    assert finding.status == "assigned" and finding.assignee_id == users.township_reviewer.pk
    assert assigned.version == finding.version == 2
    entry = AuditLog.objects.get(subject_type="finding", subject_id=str(finding.pk))
    assert entry.after is not None and entry.after["status"] == "assigned"


def test_assignment_is_refused_to_other_roles_and_to_users_outside_the_region(finding, users, ca):
    for user in (users.village_worker, users.township_reviewer, users.county_verifier, users.supervisor):
        with pytest.raises(PermissionDenied):
            finding_assign(scope=scope_for(user), finding_id=finding.pk, version=1, assignee_id=users.admin.pk)
    with pytest.raises(NotFound):
        finding_assign(scope=scope_for(users.outsider), finding_id=finding.pk, version=1, assignee_id=users.outsider.pk)
    for outsider in (users.outsider, users.supervisor):
        with pytest.raises(ApplicationError) as err:
            finding_assign(scope=ca, finding_id=finding.pk, version=1, assignee_id=outsider.pk)
        assert err.value.code == "invalid_assignee"
    with pytest.raises(StaleEdit):
        finding_assign(scope=ca, finding_id=finding.pk, version=7, assignee_id=users.township_reviewer.pk)
    assert Finding.objects.get().status == "open"


def test_the_assignee_may_resolve_with_a_written_resolution_but_not_dismiss(finding, ca, users):
    finding_assign(scope=ca, finding_id=finding.pk, version=1, assignee_id=users.township_reviewer.pk)
    reviewer = scope_for(users.township_reviewer)
    with pytest.raises(PermissionDenied):
        finding_dismiss(scope=reviewer, finding_id=finding.pk, version=2, resolution="无问题")
    with pytest.raises(ApplicationError) as err:
        finding_resolve(scope=reviewer, finding_id=finding.pk, version=2, resolution="   ")
    assert err.value.code == "reasons_required"
    finding_resolve(scope=reviewer, finding_id=finding.pk, version=2, resolution="已补签授权书并重新核对，结果符合")
    finding.refresh_from_db()
    assert finding.status == "resolved" and finding.resolved_by_id == users.township_reviewer.pk
    assert finding.resolved_at is not None
    with pytest.raises(ApplicationError) as closed:
        finding_resolve(scope=ca, finding_id=finding.pk, version=finding.version, resolution="再次办结")
    assert closed.value.code == "finding_closed"


def test_someone_not_assigned_may_not_resolve_and_a_county_approver_may_dismiss(finding, ca, users):
    with pytest.raises(PermissionDenied):
        finding_resolve(scope=scope_for(users.village_worker), finding_id=finding.pk, version=1, resolution="已处理")
    finding_dismiss(scope=ca, finding_id=finding.pk, version=1, resolution="纸质授权书在档，系统漏录")
    assert Finding.objects.get().status == "dismissed"
    assert AuditLog.objects.filter(subject_type="finding").count() == 1


def test_the_open_findings_list_is_scoped_and_hidden_from_supervisors(finding, ca, users):
    assert list(selectors.findings_list(scope=ca)) == [finding]
    assert list(selectors.findings_list(scope=scope_for(users.township_reviewer))) == [finding]
    assert list(selectors.findings_list(scope=scope_for(users.outsider))) == []
    with pytest.raises(PermissionDenied):
        selectors.findings_list(scope=scope_for(users.supervisor))
    assert selectors.finding_counts(scope=scope_for(users.supervisor)) == {"unverified_approval": {"open": 1}}
    with pytest.raises(NotFound):
        selectors.finding_get(scope=scope_for(users.outsider), finding_id=finding.pk)
