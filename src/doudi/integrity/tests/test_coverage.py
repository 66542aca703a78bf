"""Verification coverage per region: recipients and last-12-months applicants with a completed 信息核对."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from doudi.integrity import selectors
from doudi.integrity.tests.conftest import TODAY, case, household_in


def test_coverage_counts_recipients_and_applicants_verified_in_the_last_12_months(
    tree, ca, ad, django_assert_max_num_queries
):
    # Given two dibao recipients in the county, one verified within 12 months and one verified 2 years ago
    case(household_in(ca, tree.village), verified_on=dt.date(2024, 1, 10))
    case(
        household_in(ca, tree.village2),
        verified_on=dt.date(2022, 5, 1),
        received_on=dt.date(2022, 4, 1),
        decided_on=dt.date(2022, 6, 1),
    )
    # and an applicant of this year still waiting for verification, and a recipient in another county
    case(household_in(ca, tree.village), status="in_progress", verification=("pending", None))
    case(household_in(ad, tree.other_village))
    # When the county asks for coverage by township
    with django_assert_max_num_queries(4):
        coverage = selectors.verification_coverage(scope=ca, today=TODAY, level="township")
    # Then the one township shows 1 of 2 recipients and 1 of 2 applicants verified
    assert coverage.since == dt.date(2023, 6, 15)
    (row,) = coverage.rows
    assert row.region_code == tree.township.code
    assert (row.recipients, row.recipients_verified, row.recipients_share) == (2, 1, Decimal("50.0"))
    assert (row.applicants, row.applicants_verified) == (2, 1)
    assert coverage.total.as_dict()["recipients_share"] == "50.0"


def test_an_empty_region_has_no_share_rather_than_zero(tree, ca):
    coverage = selectors.verification_coverage(scope=ca, today=TODAY, level="village")
    assert {row.region_code for row in coverage.rows} == {tree.village.code, tree.village2.code}
    assert all(row.recipients_share is None for row in coverage.rows)


def test_a_household_covered_by_a_completed_verification_run_counts_as_verified(tree, ca, ad, users):
    from doudi.verification.models import RunHousehold, VerificationRun

    # Given two recipients without a verification step done in the window, and an applicant waiting for it
    verified = household_in(ca, tree.village)
    case(verified, verified_on=dt.date(2022, 5, 1), received_on=dt.date(2022, 4, 1), decided_on=dt.date(2022, 6, 1))
    failed = household_in(ca, tree.village2)
    case(failed, verified_on=dt.date(2022, 5, 1), received_on=dt.date(2022, 4, 1), decided_on=dt.date(2022, 6, 1))
    applicant = household_in(ca, tree.village)
    app = case(applicant, status="in_progress", verification=("pending", None), received_on=dt.date(2024, 5, 2))

    # When a yearly run completed within the window for the first, a failed run covered the second, and an
    # application run completed for the applicant
    def run(status, household, application=None, kind="yearly"):
        r = VerificationRun.objects.create(
            kind=kind,
            region=tree.county,
            region_path=tree.county.path,
            as_of=dt.date(2024, 5, 20),
            status=status,
            application=application,
        )
        RunHousehold.objects.create(
            run=r,
            household=household,
            application=application,
            region=household.region,
            region_path=household.region.path,
        )

    run("done", verified)
    run("failed", failed)
    run("done", applicant, application=app, kind="application")
    coverage = selectors.verification_coverage(scope=ca, today=TODAY, level="township")
    # Then one of the two recipients and the applicant count as verified
    (row,) = coverage.rows
    assert (row.recipients, row.recipients_verified) == (2, 1)
    assert (row.applicants, row.applicants_verified) == (1, 1)
