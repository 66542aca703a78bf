"""The five integrity checks: what each finds and what it leaves alone; reruns, dismissals and scope."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from doudi.cases.models import Recipient
from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.core.models import AuditLog
from doudi.integrity.models import Finding, IntegrityRun
from doudi.integrity.services import finding_dismiss, finding_resolve, integrity_run
from doudi.integrity.tests.conftest import TODAY, add_member, case, household_in, members, recipient_of, staff
from doudi.registry import services as registry
from doudi.registry.models import Membership, Person

ID_LIKE = re.compile(r"\d{15}")


def run(scope, check):
    return integrity_run(scope=scope, checks=[check], today=TODAY).counts[check]


def findings(check):
    return list(Finding.objects.filter(check_code=check).order_by("pk"))


def die(person, on):
    Person.objects.filter(pk=person.pk).update(death_date=on)


# ---- (a) deceased recipients ------------------------------------------------------------------------------


def test_a_personal_recipient_who_died_while_still_paid_is_found(tree, ca):
    # Given a tekun recipient whose death was recorded in the registry only, and another who is alive
    household = household_in(ca, tree.village)
    dead, alive = members(household)
    app = case(household, "tekun", person=dead)
    case(household, "disability_living", person=alive)
    die(dead, dt.date(2024, 3, 5))
    # When the check runs
    assert run(ca, "deceased_recipient") == 1
    # Then one finding names the recipient, the village and the county, without any ID number
    (finding,) = findings("deceased_recipient")
    assert finding.recipient_id == recipient_of(app).pk
    assert finding.person_id == dead.pk
    assert finding.region_id == tree.village.code
    assert finding.county_id == tree.county.code
    assert "2024-03-05" in finding.description and "特困" in finding.description
    assert not ID_LIKE.search(finding.description)
    assert finding.evidence["death_date"] == "2024-03-05"
    assert finding.status == "open"


def test_a_recipient_stopped_after_death_or_dying_after_the_check_date_is_not_found(tree, ca):
    household = household_in(ca, tree.village)
    stopped, later = members(household)
    case(household, "tekun", person=stopped, recipient_status="terminated")
    case(household, "disability_living", person=later)
    die(stopped, dt.date(2024, 3, 5))
    die(later, TODAY + dt.timedelta(days=1))
    assert run(ca, "deceased_recipient") == 0


def test_a_household_benefit_is_found_only_when_every_live_member_has_died(tree, ca):
    all_dead = household_in(ca, tree.village, members=2)
    one_alive = household_in(ca, tree.village2, members=2)
    case(all_dead, "dibao")
    case(one_alive, "dibao")
    for person in members(all_dead):
        die(person, dt.date(2024, 1, 20))
    die(members(one_alive)[0], dt.date(2024, 1, 20))
    assert run(ca, "deceased_recipient") == 1
    (finding,) = findings("deceased_recipient")
    assert finding.household_id == all_dead.pk and finding.person_id is None
    assert "全户成员均已死亡" in finding.description


# ---- (b) mutually exclusive programs ----------------------------------------------------------------------


def test_a_tekun_person_living_in_a_dibao_household_is_found(tree, ca):
    household = household_in(ca, tree.village)
    person = members(household)[1]
    case(household, "dibao")
    tekun = case(household, "tekun", person=person)
    assert run(ca, "exclusive_programs") == 1
    (finding,) = findings("exclusive_programs")
    assert finding.person_id == person.pk
    assert finding.recipient_id == recipient_of(tekun).pk
    assert finding.evidence["pair"] == "tekun+dibao"
    assert "最低生活保障" in finding.description and "依据" in finding.description


def test_tekun_and_a_disability_subsidy_for_the_same_person_is_found(tree, ca):
    household = household_in(ca, tree.village)
    person = members(household)[1]
    case(household, "tekun", person=person)
    case(household, "disability_nursing", person=person)
    assert run(ca, "exclusive_programs") == 1
    assert findings("exclusive_programs")[0].evidence["pair"] == "tekun+disability_nursing"


def test_programs_that_may_be_combined_or_benefits_already_stopped_are_not_found(tree, ca):
    household = household_in(ca, tree.village)
    person = members(household)[1]
    other = household_in(ca, tree.village2)
    case(household, "dibao")
    case(household, "disability_living", person=person)  # dibao + living subsidy: intended together
    case(household, "disability_nursing", person=person)
    case(other, "dibao")
    case(other, "tekun", person=members(other)[1], recipient_status="terminated")
    assert run(ca, "exclusive_programs") == 0


# ---- (c) persons in two households ------------------------------------------------------------------------


def test_a_person_whose_memberships_of_two_households_overlap_is_found(tree, ca):
    first = household_in(ca, tree.village)
    second = household_in(ca, tree.village2)
    person = members(first)[1]
    Membership.objects.filter(person=person).update(end_date=dt.date(2023, 6, 30))
    Membership.objects.create(household=second, person=person, relation="30", start_date=dt.date(2023, 1, 1))
    assert run(ca, "two_households") == 1
    (finding,) = findings("two_households")
    assert finding.person_id == person.pk and finding.household_id == second.pk
    assert finding.evidence["first_household_id"] == first.pk
    assert finding.region_id == tree.village2.code


def test_a_move_on_the_same_day_is_not_two_households(tree, ca):
    first = household_in(ca, tree.village)
    second = household_in(ca, tree.village2)
    person = members(first)[1]
    registry.person_move(scope=ca, person_id=person.pk, to_household_id=second.pk, relation="30", date="2023-03-01")
    assert run(ca, "two_households") == 0


def test_one_id_number_stored_as_an_old_15_digit_and_an_18_digit_person_is_found(tree, ca):
    household = household_in(ca, tree.village)
    person = members(household)[0]  # born 1970: old 15-digit numbers are of the 1900s
    old = person.id_number[:6] + person.id_number[8:17]  # the 15-digit form of the same number
    Person.objects.create(id_number=old, name=person.name, sex=person.sex, birth_date=person.birth_date)
    other = household_in(ca, tree.village2)  # distinct people are not duplicates
    assert other
    assert run(ca, "two_households") == 1
    (finding,) = findings("two_households")
    assert finding.person_id == person.pk
    assert finding.evidence["count"] == 2
    assert not ID_LIKE.search(finding.description)


# ---- (d) undeclared kinship with staff or cadres ----------------------------------------------------------


def test_a_recipient_household_where_a_village_cadre_lives_without_a_kin_declaration_is_found(tree, ca):
    household = household_in(ca, tree.village)
    cadre = members(household)[1]
    staff(cadre, tree.village)
    app = case(household, "dibao", kin_declared=False)
    assert run(ca, "undeclared_kin") == 1
    (finding,) = findings("undeclared_kin")
    assert finding.recipient_id == recipient_of(app).pk
    assert finding.evidence["relation"] == "同户成员"
    assert finding.evidence["staff_kind"] == "village_cadre"
    assert "未进行近亲属备案" in finding.description
    assert cadre.name not in finding.description and not ID_LIKE.search(finding.description)


def test_a_staff_member_who_moved_out_of_the_applicants_household_is_close_kin(tree, ca):
    # Given the head's son, now in his own household, is assistance staff; the head applied without declaring it
    household = household_in(ca, tree.village)
    son = add_member(household, "20", end=dt.date(2022, 1, 1), name="王子")
    own = household_in(ca, tree.village2, members=1)
    Membership.objects.create(household=own, person=son, relation="02", start_date=dt.date(2022, 1, 1))
    staff(son, tree.township, kind="assistance_staff")
    case(household, "dibao")
    assert run(ca, "undeclared_kin") == 1
    assert findings("undeclared_kin")[0].evidence["relation"] == "父母子女"


def test_declared_kinship_in_laws_and_terms_ended_before_the_application_are_not_found(tree, ca):
    declared = household_in(ca, tree.village)
    staff(members(declared)[1], tree.village)
    case(declared, "dibao", kin_declared=True)
    in_law = household_in(ca, tree.village2)
    son_in_law = add_member(in_law, "28", end=dt.date(2022, 1, 1), name="李婿")
    staff(son_in_law, tree.village2)
    case(in_law, "dibao")
    former = household_in(ca, tree.village)
    staff(members(former)[1], tree.village, to_date=dt.date(2023, 12, 31))
    case(former, "dibao", received_on=dt.date(2024, 1, 2))
    assert run(ca, "undeclared_kin") == 0


# ---- (e) approvals without verification -------------------------------------------------------------------


def test_approvals_without_authorisation_or_a_passing_verification_are_found(tree, ca):
    no_authorisation = case(household_in(ca, tree.village), authorised=False)
    failed = case(household_in(ca, tree.village), verification=("done", "fail"))
    never_done = case(household_in(ca, tree.village), verification=("skipped", None))
    no_step = case(household_in(ca, tree.village2), "tekun", verification=None)
    assert run(ca, "unverified_approval") == 4
    by_app = {f.application_id: f for f in findings("unverified_approval")}
    assert set(by_app) == {no_authorisation.pk, failed.pk, never_done.pk, no_step.pk}
    assert "未签署家庭经济状况核对授权书" in by_app[no_authorisation.pk].description
    assert "结果不是“符合”" in by_app[failed.pk].description
    assert "未办结" in by_app[never_done.pk].description
    assert "没有信息核对环节" in by_app[no_step.pk].description
    assert by_app[failed.pk].recipient_id == recipient_of(failed).pk
    assert by_app[failed.pk].evidence["verification_result"] == "fail"


def test_verified_approvals_refusals_and_programs_without_verification_are_not_found(tree, ca):
    household = household_in(ca, tree.village)
    case(household, "dibao")
    case(household, "disability_living", person=members(household)[1], verification=None)
    case(household_in(ca, tree.village), status="refused", verification=None, authorised=False)
    assert run(ca, "unverified_approval") == 0


# ---- reruns, dismissals, scope ----------------------------------------------------------------------------


def test_rerunning_creates_no_duplicate_findings(tree, ca):
    case(household_in(ca, tree.village), authorised=False)
    first = integrity_run(scope=ca, today=TODAY)
    second = integrity_run(scope=ca, today=TODAY)
    assert first.counts["unverified_approval"] == 1
    assert sum(second.counts.values()) == 0
    assert Finding.objects.count() == 1
    assert IntegrityRun.objects.count() == 2
    assert AuditLog.objects.filter(subject_type="integrity_run").count() == 2


def test_a_dismissed_finding_is_not_raised_again_but_an_unfixed_resolved_one_is(tree, ca):
    case(household_in(ca, tree.village), authorised=False)
    case(household_in(ca, tree.village), verification=("done", "fail"))
    run(ca, "unverified_approval")
    dismissed, resolved = findings("unverified_approval")
    finding_dismiss(scope=ca, finding_id=dismissed.pk, version=1, resolution="纸质授权书已找到，系统漏录")
    finding_resolve(scope=ca, finding_id=resolved.pk, version=1, resolution="已重新核对")
    assert run(ca, "unverified_approval") == 1
    assert Finding.objects.filter(check_code="unverified_approval", status="open").get().subject_key == (
        resolved.subject_key
    )


def test_a_county_approvers_run_covers_only_their_county(tree, ca, out, ad):
    mine = case(household_in(ca, tree.village), authorised=False)
    theirs = case(household_in(ad, tree.other_village), authorised=False)
    assert run(ca, "unverified_approval") == 1
    assert Finding.objects.get().application_id == mine.pk
    assert run(out, "unverified_approval") == 1
    assert Finding.objects.get(application_id=theirs.pk).county_id == tree.other_county.code
    run_record = IntegrityRun.objects.order_by("pk").first()
    assert run_record is not None and run_record.region_id == tree.county.code


def test_only_county_roles_may_run_checks_and_unknown_checks_are_refused(users, ca):
    from doudi.core.scope import scope_for

    with pytest.raises(PermissionDenied):
        integrity_run(scope=scope_for(users.township_reviewer), today=TODAY)
    with pytest.raises(PermissionDenied):
        integrity_run(scope=scope_for(users.supervisor), today=TODAY)
    with pytest.raises(ApplicationError) as err:
        integrity_run(scope=ca, checks=["nonsense"], today=TODAY)
    assert err.value.code == "unknown_check"


def test_every_check_runs_together_in_one_run(tree, ca):
    household = household_in(ca, tree.village)
    head, member = members(household)
    case(household, "dibao", authorised=False)
    case(household, "tekun", person=member)
    staff(head, tree.village)
    die(member, dt.date(2024, 2, 1))
    result = integrity_run(scope=ca, today=TODAY)
    assert result.counts == {
        "deceased_recipient": 1,
        "exclusive_programs": 1,
        "two_households": 0,
        "undeclared_kin": 2,
        "unverified_approval": 1,
    }
    assert Recipient.objects.count() == 2


def test_each_check_is_one_statement_whatever_the_number_of_cases(tree, ca, django_assert_num_queries):
    # Given one household with every kind of problem, the run costs a fixed number of statements
    household = household_in(ca, tree.village)
    head, member = members(household)
    case(household, "dibao", authorised=False)
    case(household, "tekun", person=member)
    staff(head, tree.village)
    # region, run record, 5 checks, run update, audit entry, and the atomic block's savepoint and release
    with django_assert_num_queries(11):
        integrity_run(scope=ca, today=TODAY)
    # When there are three times as many problem households, the count does not change
    for village in (tree.village, tree.village2):
        other = household_in(ca, village)
        case(other, "dibao", authorised=False)
        case(other, "tekun", person=members(other)[1])
        staff(members(other)[0], village)
    with django_assert_num_queries(11):
        result = integrity_run(scope=ca, today=TODAY)
    assert result.counts["unverified_approval"] == 2 and result.counts["undeclared_kin"] == 4
