"""Deterministic synthetic caseloads (vectorised numpy/pyarrow) for tests and benchmarks.

Not realistic statistics: enough variety to exercise every dibao rule (exclusions, deductions, asset
tests, increments, gradual exit, single-person route) on many households.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .schema import FUNERAL_ITEMS, MONEY_ARROW, SELF_CARE_ITEMS

# Region codes that have dibao standards from 2019-11-01 on (Haikou has none before 2023-07-27).
REGIONS: tuple[str, ...] = (
    "469001", "469002", "469005", "469006", "469007", "469021", "469022", "469023", "469024",
    "469025", "469026", "469027", "469028", "469029", "469030", "460400", "460400499",
    "460202", "460203", "460204", "460205",
)  # fmt: skip
AREAS: tuple[str, ...] = ("urban", "rural")
DEFAULT_AS_OF = dt.date(2021, 8, 1)


def money_array(cents: np.ndarray) -> pa.Array:
    """DECIMAL(18, 2) array from non-negative integer cents, without going through Python objects."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    if cents.size and cents.min() < 0:
        raise ValueError("money_array expects non-negative cents")
    raw = np.zeros((cents.size, 2), dtype=np.int64)
    raw[:, 0] = cents
    return pa.Array.from_buffers(MONEY_ARROW, cents.size, [None, pa.py_buffer(raw.tobytes())])


def _ids(prefix: str, index: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(index).cast(pa.string()), "")


def generate(n_households: int, seed: int = 20180101, as_of: dt.date = DEFAULT_AS_OF) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    n = n_households
    hh_index = np.arange(n)
    household_ids = _ids("H", hh_index)

    region_idx = rng.integers(0, len(REGIONS), n)
    area_idx = rng.integers(0, 2, n)
    exit_flag = rng.random(n) < 0.05
    exit_month = np.where(exit_flag, rng.integers(1, 9, n), 0)
    exit_prev = np.where(exit_flag, rng.integers(5_000, 150_000, n), 0)
    households = pa.table(
        {
            "household_id": household_ids,
            "region_code": pa.array(np.array(REGIONS)[region_idx]),
            "area": pa.array(np.array(AREAS)[area_idx]),
            "gradual_exit_month": pa.array(exit_month, mask=~exit_flag),
            "gradual_exit_previous_amount": _masked_money(exit_prev, exit_flag),
            # fields read by temporary assistance, disability subsidies and funeral subsidies
            "dibao_recipient": pa.array(rng.random(n) < 0.4),
            "request_type": pa.array(np.where(rng.random(n) < 0.5, "emergency", "expense")),
            "request_group": pa.array(np.array(["tekun", "dibao", "other"])[rng.integers(0, 3, n)]),
            "request_persons": pa.array(rng.integers(1, 6, n)),
            "request_months": pa.array(rng.integers(1, 9, n)),
            "request_expense": money_array(rng.integers(0, 2_000_000, n)),
            "request_items": _random_items(rng, n),
            "request_deceased": pc.binary_join_element_wise(household_ids, "0", "-"),
        }
    )

    # members: 1–6 per household
    sizes = np.clip(rng.poisson(2.2, n) + 1, 1, 6)
    m = int(sizes.sum())
    m_hh = np.repeat(hh_index, sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    m_pos = np.arange(m) - starts
    member_ids = pc.binary_join_element_wise(
        pc.take(household_ids, pa.array(m_hh)), pa.array(m_pos).cast(pa.string()), "-"
    )
    as_of_days = (as_of - dt.date(1970, 1, 1)).days
    age_days = rng.integers(0, 95 * 365, m)
    birth = (as_of_days - age_days).astype("int32")
    relations = np.array(["head", "spouse", "child", "parent", "grandchild", "other"])
    relation = np.where(m_pos == 0, "head", relations[rng.integers(1, len(relations), m)])
    disabled = rng.random(m) < 0.12
    status = np.where(rng.random(m) < 0.02, "in_prison", "present")
    members = pa.table(
        {
            "household_id": pc.take(household_ids, pa.array(m_hh)),
            "member_id": member_ids,
            "birth_date": pa.array(birth, pa.date32()),
            "relation": pa.array(relation),
            "disability_category": pa.array(rng.integers(1, 8, m), mask=~disabled),
            "disability_grade": pa.array(rng.integers(1, 5, m), mask=~disabled),
            "serious_illness": pa.array(rng.random(m) < 0.05),
            "registered_poor": pa.array(rng.random(m) < 0.2),
            "status": pa.array(status),
            # fields read by tekun and the disability subsidies
            "labour_capacity": pa.array(np.array(["full", "partial", "none"])[rng.integers(0, 3, m)]),
            "has_able_supporter": pa.array(rng.random(m) < 0.5),
            "support_mode": pa.array(np.where(rng.random(m) < 0.8, "dispersed", "centralised")),
            **{f"self_care_{item}": pa.array(rng.random(m) < 0.8) for item in SELF_CARE_ITEMS},
            "long_term_care": pa.array(rng.random(m) < 0.3),
            "tekun_recipient": pa.array(rng.random(m) < 0.05),
        }
    )

    # incomes: wages for ~45% of members, pensions for the elderly, household business for ~20%
    wage = rng.random(m) < 0.45
    elderly = age_days >= 60 * 365
    biz = rng.random(n) < 0.2
    inc_hh = np.concatenate([m_hh[wage], m_hh[elderly], hh_index[biz]])
    inc_member = pa.concat_arrays(
        [
            member_ids.filter(pa.array(wage)),
            member_ids.filter(pa.array(elderly)),
            pa.nulls(int(biz.sum()), pa.string()),
        ]
    )
    inc_kind = np.concatenate(
        [
            np.full(int(wage.sum()), "wage"),
            np.full(int(elderly.sum()), "basic_pension_base"),
            np.full(int(biz.sum()), "business"),
        ]
    )
    inc_cents = np.concatenate(
        [
            rng.integers(0, 150_000, int(wage.sum())),
            rng.integers(5_000, 20_000, int(elderly.sum())),
            rng.integers(0, 100_000, int(biz.sum())),
        ]
    )
    incomes = pa.table(
        {
            "household_id": pc.take(household_ids, pa.array(inc_hh)),
            "member_id": inc_member,
            "kind": pa.array(inc_kind),
            "monthly_amount": money_array(inc_cents),
        }
    )

    # expenses: medical for ~15% of members, education for ~10%
    med = rng.random(m) < 0.15
    edu = rng.random(m) < 0.10
    exp_kind = np.concatenate([np.full(int(med.sum()), "medical"), np.full(int(edu.sum()), "education")])
    expenses = pa.table(
        {
            "household_id": pc.take(household_ids, pa.array(np.concatenate([m_hh[med], m_hh[edu]]))),
            "member_id": pa.concat_arrays([member_ids.filter(pa.array(med)), member_ids.filter(pa.array(edu))]),
            "kind": pa.array(exp_kind),
            "monthly_amount": money_array(rng.integers(0, 80_000, int(med.sum() + edu.sum()))),
        }
    )

    # assets: deposits (~60% of households), one home (~90%), cars (~6%), business registrations (~3%)
    dep = rng.random(n) < 0.6
    home = rng.random(n) < 0.9
    car = rng.random(n) < 0.06
    reg = rng.random(n) < 0.03
    parts = [(dep, "deposit"), (home, "housing"), (car, "vehicle"), (reg, "business_registration")]
    a_hh = np.concatenate([hh_index[f] for f, _ in parts])
    a_kind = np.concatenate([np.full(int(f.sum()), k) for f, k in parts])
    a_value = np.concatenate(
        [
            rng.integers(0, 4_000_000, int(dep.sum())),
            np.zeros(int(home.sum()), np.int64),
            rng.integers(1_000_000, 10_000_000, int(car.sum())),
            np.zeros(int(reg.sum()), np.int64),
        ]
    )
    assets = pa.table(
        {
            "household_id": pc.take(household_ids, pa.array(a_hh)),
            "member_id": pa.nulls(len(a_hh), pa.string()),
            "kind": pa.array(a_kind),
            "value": money_array(a_value),
            "count": pa.array(np.where(rng.random(len(a_hh)) < 0.05, 2, 1)),
        }
    )
    return {
        "households": households,
        "members": members,
        "incomes": incomes,
        "expenses": expenses,
        "assets": assets,
    }


def _random_items(rng: np.random.Generator, n: int) -> pa.Array:
    """A random non-empty subset of the funeral items per household, as list<string>."""
    chosen = rng.random((n, len(FUNERAL_ITEMS))) < 0.6
    chosen[:, 4] = True  # cremation always requested
    offsets = np.concatenate([[0], np.cumsum(chosen.sum(axis=1))]).astype(np.int32)
    index = np.broadcast_to(np.arange(len(FUNERAL_ITEMS)), chosen.shape)[chosen]
    values = pc.take(pa.array(FUNERAL_ITEMS), pa.array(index))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _masked_money(cents: np.ndarray, present: np.ndarray) -> pa.Array:
    values = money_array(cents)
    return pc.if_else(pa.array(present), values, pa.scalar(None, MONEY_ARROW))
