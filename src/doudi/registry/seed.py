"""A deterministic synthetic province for demos, tests and benchmarks (issue 2, item 8).

`seed_province` creates synthetic townships and villages under every real county-level unit of Hainan,
then households with members, incomes, assets and expenses. Same household count and seed → same data
(ages are taken as of `REFERENCE_DATE`, not today, for that reason).

Shape of the work, chosen for 1M households on 2 cores:
* rows are generated column-wise with numpy, in fixed chunks of households with one random stream per
  chunk, so the data does not depend on `batch_size` (which only sets how much is written at once);
* primary keys are assigned up front from max(id)+1, so memberships and items reference persons and
  households without round trips; sequences are reset afterwards;
* PostgreSQL: COPY into the real tables inside one transaction, with the registry tables' secondary indexes,
  unique and foreign-key constraints dropped first and rebuilt after ("Populating a Database" in the
  PostgreSQL manual) — the tables are empty, which is checked under a lock, and the DDL rolls back with
  the load if anything fails. SQLite: executemany in one transaction.

The figures below (population weights, ethnic shares, rates) are rounded approximations for synthetic data,
not statistics to quote.
"""

from __future__ import annotations

import datetime as dt
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from doudi.core.choices import AuditAction, RegionLevel
from doudi.core.errors import ApplicationError
from doudi.core.models import Region
from doudi.core.scope import system_scope
from doudi.core.services import audit_log_create
from doudi.registry.models import AssetItem, ExpenseItem, Household, IncomeItem, Membership, Person

REFERENCE_DATE = dt.date(2025, 12, 31)
CHUNK_HOUSEHOLDS = 5_000
# Villages hold ~300 synthetic households at full scale; small demos get smaller villages so that every
# county still shows several townships and villages.
VILLAGE_MAX_HOUSEHOLDS = 300
VILLAGE_MIN_HOUSEHOLDS = 40
OBSOLETE_DANZHOU = "469003"  # 儋州's county-level code until 2015; older ID numbers keep it


@dataclass(frozen=True)
class CountyProfile:
    weight: float  # relative resident population (7th census, rounded, 10k persons)
    townships: int  # roughly the real number of township-level units
    li: float = 0.0  # share of 黎族 households
    miao: float = 0.0  # share of 苗族 households
    hui: float = 0.0  # share of 回族 households (三亚 凤凰镇 回辉/回新)
    district: bool = False  # a city district: more communities, streets instead of towns


PROFILES: dict[str, CountyProfile] = {
    "460105": CountyProfile(48, 6, district=True),
    "460106": CountyProfile(80, 6, district=True),
    "460107": CountyProfile(66, 8, district=True),
    "460108": CountyProfile(93, 9, district=True),
    "460202": CountyProfile(14, 4, li=0.45, district=True),
    "460203": CountyProfile(36, 6, li=0.28, district=True),
    "460204": CountyProfile(36, 6, li=0.22, hui=0.03, district=True),
    "460205": CountyProfile(17, 3, li=0.40, district=True),
    "460300": CountyProfile(0, 0),  # 三沙: a few thousand residents on islands; no synthetic population
    "460400": CountyProfile(95, 16, li=0.02),
    "460400499": CountyProfile(10, 3),  # 洋浦 (code sits under 儋州; own civil-affairs unit)
    "469001": CountyProfile(11, 7, li=0.58, miao=0.03),
    "469002": CountyProfile(53, 12, li=0.01),
    "469005": CountyProfile(56, 17),
    "469006": CountyProfile(55, 12, li=0.02),
    "469007": CountyProfile(44, 10, li=0.33),
    "469021": CountyProfile(28, 10),
    "469022": CountyProfile(25, 8, li=0.02, miao=0.02),
    "469023": CountyProfile(50, 11),
    "469024": CountyProfile(42, 10),
    "469025": CountyProfile(17, 11, li=0.63, miao=0.01),
    "469026": CountyProfile(23, 8, li=0.37),
    "469027": CountyProfile(46, 11, li=0.47, miao=0.01),
    "469028": CountyProfile(37, 11, li=0.55, miao=0.01),
    "469029": CountyProfile(15, 9, li=0.60, miao=0.04),
    "469030": CountyProfile(17, 10, li=0.52, miao=0.06),
}
DEFAULT_PROFILE = CountyProfile(30, 8)

ETHNIC_CODES = ("01", "19", "06", "03", "08")  # 汉, 黎, 苗, 回, 壮
HAN, LI, MIAO, HUI, ZHUANG = range(5)

FIRST_SYLLABLES = list("大新南北东西长龙福永和兴加保那抱番什毛乐美文万昌红石山水高中上罗博坡岭塘田林芒椰海港湾金")
SECOND_SYLLABLES = list("丰安平昌兴和来坡岭塘田山水湖溪洋湾港门头园峰河桥沙坝埠坑城口铺圩岸南荣光明德宁")

HAN_SURNAMES = list("王陈林李吴黄符张周刘邢郑冯梁云何蔡杨钟谢韩唐许潘麦叶曾邓卢庞莫文孙郭朱罗徐彭龙")
LI_SURNAMES = list("符王黎吉董邢陈卓黄刘胡高容李孙")
MIAO_SURNAMES = list("李邓盘赵蒋陈冯")
MALE_CHARS = list("伟强明军华建国海文志平波辉东勇杰涛斌峰林光成民荣亮新春德福贵忠良生才家俊宇浩子轩博晨")
FEMALE_CHARS = list("芳丽娟英梅玲兰霞燕红琴秀珍萍敏静婷雪慧莉娜倩颖欣怡佳琳月凤花妹玉桂菊")

# Household sizes 1-7 (mean ≈ 3.3 overall; urban households are smaller).
SIZE_P_RURAL = np.array([0.12, 0.21, 0.21, 0.21, 0.13, 0.08, 0.04])
SIZE_P_URBAN = np.array([0.18, 0.28, 0.25, 0.17, 0.07, 0.04, 0.01])

# Roles inside a generated household; relation codes per GB/T 4761-2008 (registry.choices.Relation).
HEAD, SPOUSE, CHILD, ADULT_SON, DAUGHTER_IN_LAW, GRANDCHILD, PARENT = range(7)

DISABILITY_CATEGORY_P = np.array([0.149, 0.242, 0.015, 0.291, 0.067, 0.074, 0.162])  # 2006 national sample survey
DISABILITY_GRADE_P = np.array([0.12, 0.20, 0.30, 0.38])
EXIT_YEARS = np.array([2016, 2017, 2018, 2019, 2020])
EXIT_YEAR_P = np.array([0.12, 0.18, 0.25, 0.28, 0.17])

TABLE_MODELS: dict[str, type[models.Model]] = {
    "person": Person,
    "household": Household,
    "membership": Membership,
    "income": IncomeItem,
    "asset": AssetItem,
    "expense": ExpenseItem,
}


@dataclass(frozen=True)
class CountyUnit:
    code: str
    name: str
    path: str
    poverty_county: bool
    profile: CountyProfile
    address_code: str  # 6-digit code for ID numbers
    address_prefix: str  # "海南省海口市秀英区"


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    level: str
    parent_code: str
    path: str


@dataclass
class RegionPlan:
    units: list[CountyUnit]
    townships: list[RegionRow]
    villages: list[RegionRow]
    village_unit: np.ndarray  # county-unit index per village
    village_community: np.ndarray  # True for 社区 (residents' committees), False for 村
    village_address: list[str]  # address prefix per village
    village_households: np.ndarray  # households per village


@dataclass
class Batch:
    """One chunk of generated rows, column-wise: table → column → values (Python ints/str/bool/None)."""

    tables: dict[str, dict[str, list[Any]]]
    households: int
    persons: int

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        cols = self.tables[table]
        return list(zip(*cols.values(), strict=True))


@dataclass
class SeedResult:
    households: int = 0
    persons: int = 0
    memberships: int = 0
    townships: int = 0
    villages: int = 0
    incomes: int = 0
    assets: int = 0
    expenses: int = 0
    registered_poor: int = 0
    seed: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "households": self.households,
            "persons": self.persons,
            "memberships": self.memberships,
            "townships": self.townships,
            "villages": self.villages,
            "incomes": self.incomes,
            "assets": self.assets,
            "expenses": self.expenses,
            "registered_poor": self.registered_poor,
        }

    def summary(self) -> str:
        return (
            f"已生成合成数据（随机种子 {self.seed}）："
            f"乡镇（街道）{self.townships:,} 个，村（社区）{self.villages:,} 个，"
            f"家庭 {self.households:,} 户，人员 {self.persons:,} 人（其中建档立卡户 {self.registered_poor:,} 户），"
            f"收入 {self.incomes:,} 条，财产 {self.assets:,} 条，刚性支出 {self.expenses:,} 条；"
            f"用时 {self.seconds:.1f} 秒"
        )


# --------------------------------------------------------------------------------------------- regions


def county_units() -> list[CountyUnit]:
    """The real county-level units that get synthetic townships: counties, city districts, 洋浦, and cities
    without counties (儋州). 三沙 is left out (profile weight 0)."""
    rows = list(Region.objects.filter(level__in=[RegionLevel.COUNTY, RegionLevel.CITY]).order_by("code"))
    names = dict(Region.objects.filter(level__in=[RegionLevel.PROVINCE, RegionLevel.CITY]).values_list("code", "name"))
    has_county_children = {r.parent_id for r in rows if r.level == RegionLevel.COUNTY}
    units = []
    for region in rows:
        if region.level == RegionLevel.CITY and region.code in has_county_children:
            continue
        key = region.code[:9] if region.code[6:9] != "000" else region.code[:6]
        profile = PROFILES.get(key, DEFAULT_PROFILE)
        if profile.weight <= 0:
            continue
        units.append(
            CountyUnit(
                code=region.code,
                name=region.name,
                path=region.path,
                poverty_county=region.poverty_county,
                profile=profile,
                address_code=region.code[:6],
                address_prefix="".join(names.get(code, "") for code in region.path.strip("/").split("/")[:-1])
                + region.name,
            )
        )
    return units


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    if total == 0 or len(weights) == 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = total * weights / weights.sum()
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rest]] += 1
    return base


def _names(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        first = FIRST_SYLLABLES[rng.integers(len(FIRST_SYLLABLES))]
        name = first + SECOND_SYLLABLES[rng.integers(len(SECOND_SYLLABLES))]
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def plan_regions(units: list[CountyUnit], households: int, seed: int) -> RegionPlan:
    """Townships and villages per county unit, scaled to the household count."""
    rng = np.random.default_rng([seed, 1])
    target = min(VILLAGE_MAX_HOUSEHOLDS, max(VILLAGE_MIN_HOUSEHOLDS, households // 600))
    weights = np.array([u.profile.weight for u in units], dtype=float)
    per_unit = _largest_remainder(households, weights)
    townships: list[RegionRow] = []
    villages: list[RegionRow] = []
    village_unit: list[int] = []
    village_community: list[bool] = []
    village_address: list[str] = []
    village_households: list[int] = []
    for ui, unit in enumerate(units):
        n_villages = max(1, round(int(per_unit[ui]) / target))
        sub_block = unit.code[6:9] != "000"  # 洋浦: its townships take codes 4604004 9x under its own block
        max_townships = 8 if sub_block else unit.profile.townships
        n_townships = max(1, min(max_townships, math.ceil(n_villages / 4)))
        township_names = _names(rng, n_townships, set())
        streets = n_townships // 2 if unit.profile.district else 0
        counters = {"street": 0, "town": 0, "xiang": 0}
        unit_townships = []
        for ti in range(n_townships):
            if ti < streets:
                kind, suffix, base = "street", "街道", 1
            elif not unit.profile.district and ti > 0 and rng.random() < 0.15:
                kind, suffix, base = "xiang", "乡", 200
            else:
                kind, suffix, base = "town", "镇", 100
            code9 = unit.code[:8] + str(ti + 1) if sub_block else f"{unit.code[:6]}{base + counters[kind]:03d}"
            counters[kind] += 1
            row = RegionRow(
                code=code9 + "000",
                name=township_names[ti] + suffix,
                level=RegionLevel.TOWNSHIP,
                parent_code=unit.code,
                path=f"{unit.path}{code9}000/",
            )
            townships.append(row)
            unit_townships.append((row, kind, ti == 0))
        # Villages are dealt to townships in turn, so every township gets at least one.
        sizes = np.exp(rng.normal(0.0, 0.5, n_villages))
        village_counts = _largest_remainder(int(per_unit[ui]), sizes)
        taken: dict[str, set[str]] = {}
        v_counters: dict[str, list[int]] = {}
        for vi in range(n_villages):
            township, kind, seat = unit_townships[vi % n_townships]
            p_community = 0.6 if unit.profile.district or kind == "street" else 0.5 if seat else 0.08
            community = bool(rng.random() < p_community)
            counter = v_counters.setdefault(township.code, [1, 200])
            if community:
                number, counter[0] = counter[0], counter[0] + 1
            else:
                number, counter[1] = counter[1], counter[1] + 1
            name = _names(rng, 1, taken.setdefault(township.code, set()))[0] + ("社区" if community else "村")
            code = f"{township.code[:9]}{number:03d}"
            villages.append(
                RegionRow(
                    code=code,
                    name=name,
                    level=RegionLevel.VILLAGE,
                    parent_code=township.code,
                    path=f"{township.path}{code}/",
                )
            )
            village_unit.append(ui)
            village_community.append(community)
            village_address.append(f"{unit.address_prefix}{township.name}{name}")
            village_households.append(int(village_counts[vi]))
    return RegionPlan(
        units=units,
        townships=townships,
        villages=villages,
        village_unit=np.array(village_unit, dtype=np.int64),
        village_community=np.array(village_community, dtype=bool),
        village_address=village_address,
        village_households=np.array(village_households, dtype=np.int64),
    )


# ----------------------------------------------------------------------------------------- ID numbers

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = np.array(list("10X98765432"))
EPOCH = np.datetime64("1900-01-01")
N_DAYS = int((np.datetime64(REFERENCE_DATE) - EPOCH).astype(int)) + 1


class IdAllocator:
    """Unique GB 11643 numbers: sequence codes are handed out per (address code, birth date, sex).

    Each slot starts at a pseudo-random offset (real sequence codes are not 001, 003, …) and holds up to
    500 - 200 numbers; when a slot is full the birth date moves one day earlier, which keeps the ID valid
    and consistent with the person's recorded birth date and sex.
    """

    def __init__(self, address_codes: list[str]) -> None:
        self.codes = address_codes
        self.counts = np.zeros(len(address_codes) * N_DAYS * 2, dtype=np.int32)
        digits = np.array([[int(c) for c in code] for code in address_codes], dtype=np.int64)
        self.address_sum = digits @ WEIGHTS[:6]

    def allocate(self, address: np.ndarray, birth: np.ndarray, male: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Return ID numbers and the (possibly adjusted) birth dates, as datetime64[D]."""
        birth = birth.copy()
        seq = np.zeros(len(address), dtype=np.int64)
        todo = np.arange(len(address))
        while len(todo):
            day = (birth[todo] - EPOCH).astype(np.int64)
            key = (address[todo] * N_DAYS + day) * 2 + male[todo]
            order = np.argsort(key, kind="stable")
            sorted_key = key[order]
            first = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
            group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order)) - group_start
            offset = (key * 7919) % 200
            slot = offset + self.counts[key] + rank
            limit = np.where(male[todo] == 1, 499, 498)
            ok = slot <= limit
            np.add.at(self.counts, key[ok], 1)
            seq[todo[ok]] = np.where(male[todo[ok]] == 1, 2 * slot[ok] + 1, 2 * slot[ok] + 2)
            todo = todo[~ok]
            birth[todo] -= np.timedelta64(1, "D")
        y = birth.astype("datetime64[Y]").astype(np.int64) + 1970
        m = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
        d = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
        date_digits = [y // 1000, y // 100 % 10, y // 10 % 10, y % 10, m // 10, m % 10, d // 10, d % 10]
        seq_digits = [seq // 100, seq // 10 % 10, seq % 10]
        total = self.address_sum[address].copy()
        for i, digit in enumerate(date_digits + seq_digits):
            total += digit * WEIGHTS[6 + i]
        check = CHECK_CHARS[total % 11].tolist()
        ymd = (y * 10000 + m * 100 + d).tolist()
        codes = self.codes
        ids = [
            f"{codes[a]}{b}{s:03d}{c}" for a, b, s, c in zip(address.tolist(), ymd, seq.tolist(), check, strict=True)
        ]
        return ids, birth


# ----------------------------------------------------------------------------------------- households


def _money(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]


def _lognormal_cents(rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int) -> np.ndarray:
    return np.round(np.asarray(median) * np.exp(rng.normal(0.0, sigma, n)) * 100).astype(np.int64)


def _dates(days: np.ndarray) -> list[str]:
    return days.astype("datetime64[D]").astype(str).tolist()


class _ItemBuilder:
    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray, np.ndarray | None]] = []

    def add(
        self,
        household: np.ndarray,
        person: np.ndarray | None,
        kind: str,
        cents: np.ndarray,
        count: np.ndarray | None = None,
    ) -> None:
        if len(household) == 0:
            return
        if person is None:
            person = np.full(len(household), -1, dtype=np.int64)
        self.parts.append((household, person, kind, cents, count))

    def build(
        self,
        *,
        next_id: int,
        hh_ids: np.ndarray,
        person_ids: np.ndarray,
        rng: np.random.Generator,
        now: dt.datetime,
        amount_column: str,
    ) -> dict[str, list[Any]]:
        if not self.parts:
            return {
                c: []
                for c in (
                    "id",
                    "household_id",
                    "person_id",
                    "start_date",
                    "end_date",
                    "note",
                    "created_at",
                    "kind",
                    amount_column,
                )
            }
        household = np.concatenate([p[0] for p in self.parts])
        person = np.concatenate([p[1] for p in self.parts])
        cents = np.concatenate([p[3] for p in self.parts])
        kinds: list[str] = []
        for p in self.parts:
            kinds.extend([p[2]] * len(p[0]))
        # Items of one household are kept together (as an operator would enter them).
        order = np.argsort(household, kind="stable")
        household, person, cents = household[order], person[order], cents[order]
        kinds = [kinds[i] for i in order.tolist()]
        n = len(household)
        start = np.datetime64("2024-01-01") + rng.integers(0, 700, n).astype("timedelta64[D]")
        person_col: list[Any] = np.where(person >= 0, person_ids[np.maximum(person, 0)], -1).tolist()
        out: dict[str, list[Any]] = {
            "id": list(range(next_id, next_id + n)),
            "household_id": hh_ids[household].tolist(),
            "person_id": [None if p < 0 else p for p in person_col],
            "start_date": _dates(start),
            "end_date": [None] * n,
            "note": [""] * n,
            "created_at": [now] * n,
            "kind": kinds,
            amount_column: _money(cents),
        }
        counts = [p[4] if p[4] is not None else np.ones(len(p[0]), dtype=np.int64) for p in self.parts]
        if amount_column == "value":
            out["count"] = np.concatenate(counts)[order].tolist()
        return out


class ProvinceGenerator:
    """Generates the province's households chunk by chunk; pure function of (plan, households, seed, first ids)."""

    def __init__(
        self, plan: RegionPlan, households: int, seed: int, first_ids: dict[str, int], now: dt.datetime
    ) -> None:
        self.plan = plan
        self.households = households
        self.seed = seed
        self.next_ids = dict(first_ids)
        self.now = now
        codes = [u.address_code for u in plan.units]
        self.address_codes = sorted(set(codes) | {OBSOLETE_DANZHOU})
        self.unit_address = np.array([self.address_codes.index(c) for c in codes], dtype=np.int64)
        self.obsolete_index = self.address_codes.index(OBSOLETE_DANZHOU)
        self.unit_danzhou = np.array([u.address_code == "460400" for u in plan.units], dtype=bool)
        self.unit_li = np.array([u.profile.li for u in plan.units])
        self.unit_miao = np.array([u.profile.miao for u in plan.units])
        self.unit_hui = np.array([u.profile.hui for u in plan.units])
        self.unit_poverty = np.array([u.poverty_county for u in plan.units], dtype=bool)
        self.ids = IdAllocator(self.address_codes)
        self.hh_village = np.repeat(np.arange(len(plan.villages)), plan.village_households)
        starts = np.cumsum(plan.village_households) - plan.village_households
        self.hh_seq = np.arange(len(self.hh_village)) - np.repeat(starts, plan.village_households) + 1

    def __iter__(self) -> Iterator[Batch]:
        for index, start in enumerate(range(0, self.households, CHUNK_HOUSEHOLDS)):
            stop = min(start + CHUNK_HOUSEHOLDS, self.households)
            yield self._chunk(np.random.default_rng([self.seed, 2, index]), start, stop)

    def _chunk(self, rng: np.random.Generator, start: int, stop: int) -> Batch:
        plan = self.plan
        n = stop - start
        village = self.hh_village[start:stop]
        seq = self.hh_seq[start:stop]
        unit = plan.village_unit[village]
        community = plan.village_community[village]
        urban = np.where(community, rng.random(n) < 0.85, rng.random(n) < 0.05)
        poverty_county = self.unit_poverty[unit]

        # Composition: size, head, spouse, three generations or a nuclear family (with a parent at times).
        size = np.where(urban, rng.choice(7, n, p=SIZE_P_URBAN), rng.choice(7, n, p=SIZE_P_RURAL)) + 1
        head_age = np.clip(np.round(rng.normal(50, 13, n)), 22, 92).astype(np.int64)
        alone_age = np.where(rng.random(n) < 0.6, rng.integers(60, 91, n), rng.integers(22, 60, n))
        head_age = np.where(size == 1, alone_age, head_age)
        head_male = np.where(size == 1, rng.random(n) < 0.5, rng.random(n) < 0.82)
        has_spouse = (size >= 2) & (rng.random(n) < 0.88)
        three_gen = (head_age >= 56) & (size >= 4) & (rng.random(n) < 0.8)
        parent_last = ~three_gen & (size >= 5) & (head_age < 50) & (rng.random(n) < 0.5)

        total = int(size.sum())
        hh = np.repeat(np.arange(n), size)
        hh_start = np.cumsum(size) - size
        pos = np.arange(total) - hh_start[hh]
        k = pos - has_spouse[hh]  # position among the non-spouse members (head is 0)
        role = np.full(total, CHILD)
        role[(pos == 1) & has_spouse[hh]] = SPOUSE
        tg = three_gen[hh] & (pos > 0) & (role != SPOUSE)
        role[tg & (k == 1)] = ADULT_SON
        role[tg & (k == 2)] = DAUGHTER_IN_LAW
        role[tg & (k >= 3)] = GRANDCHILD
        role[parent_last[hh] & (pos == size[hh] - 1)] = PARENT
        role[pos == 0] = HEAD

        ha = head_age[hh]
        age = np.zeros(total, dtype=np.int64)
        age[role == HEAD] = head_age
        hm = head_male[hh]
        m = role == SPOUSE
        age[m] = np.clip(ha[m] + np.where(hm[m], -2, 2) + np.round(rng.normal(0, 3, m.sum())), 18, 100)
        m = role == CHILD
        age[m] = np.clip(ha[m] - rng.integers(20, 36, m.sum()) - 2 * np.maximum(k[m] - 1, 0), 0, None)
        m = role == ADULT_SON
        age[m] = np.clip(ha[m] - rng.integers(22, 32, m.sum()), 18, None)
        son_index = hh_start + has_spouse + 1
        son_age = np.zeros(n, dtype=np.int64)
        son_age[three_gen] = age[son_index[three_gen]]
        m = role == DAUGHTER_IN_LAW
        age[m] = np.clip(son_age[hh[m]] + np.round(rng.normal(-2, 3, m.sum())), 18, None)
        m = role == GRANDCHILD
        age[m] = np.clip(son_age[hh[m]] - rng.integers(20, 32, m.sum()) - 2 * (k[m] - 3), 0, None)
        m = role == PARENT
        age[m] = np.clip(ha[m] + rng.integers(22, 34, m.sum()), 0, 100)

        male = rng.random(total) < 0.51
        male[role == HEAD] = head_male
        male[role == SPOUSE] = ~hm[role == SPOUSE]
        male[role == ADULT_SON] = True
        male[role == DAUGHTER_IN_LAW] = False
        relation = np.select(
            [
                role == HEAD,
                role == SPOUSE,
                role == ADULT_SON,
                role == DAUGHTER_IN_LAW,
                (role == CHILD) & male,
                role == CHILD,
                (role == GRANDCHILD) & male,
                role == GRANDCHILD,
                (role == PARENT) & male,
            ],
            ["02", "10", "20", "38", "20", "30", "41", "42", "51"],
            "52",
        )

        ref = np.datetime64(REFERENCE_DATE)
        birth = ref - (age * 365 + age // 4 + rng.integers(0, 365, total)).astype("timedelta64[D]")
        address = self.unit_address[unit][hh]
        obsolete = self.unit_danzhou[unit][hh] & (birth < np.datetime64("2012-01-01")) & (rng.random(total) < 0.25)
        address = np.where(obsolete, self.obsolete_index, address)
        id_numbers, birth = self.ids.allocate(address, birth, male.astype(np.int64))

        # Ethnicity by household (黎族/苗族 in the central and southern counties); spouses sometimes differ.
        u = rng.random(n)
        li, miao, hui = self.unit_li[unit], self.unit_miao[unit], self.unit_hui[unit]
        group = np.select(
            [u < li, u < li + miao, u < li + miao + hui, u < li + miao + hui + 0.003], [LI, MIAO, HUI, ZHUANG], HAN
        )
        person_group = group[hh]
        incomer = ((role == SPOUSE) | (role == DAUGHTER_IN_LAW)) & (rng.random(total) < 0.15)
        person_group = np.where(incomer, HAN, person_group)
        ethnicity = np.array(ETHNIC_CODES)[person_group].tolist()

        # Names: the family surname by the head's group; spouses and daughters-in-law bring their own.
        pools = [HAN_SURNAMES, LI_SURNAMES, MIAO_SURNAMES, HAN_SURNAMES, HAN_SURNAMES]
        family = np.empty(n, dtype=object)
        for g, pool in enumerate(pools):
            sel = group == g
            family[sel] = np.array(pool, dtype=object)[_zipf(rng, len(pool), int(sel.sum()))]
        own = np.array(HAN_SURNAMES, dtype=object)[_zipf(rng, len(HAN_SURNAMES), total)]
        surname = np.where(
            incomer | (role == SPOUSE) | (role == DAUGHTER_IN_LAW) | ((role == PARENT) & ~male), own, family[hh]
        )
        male_chars = np.array(MALE_CHARS, dtype=object)
        female_chars = np.array(FEMALE_CHARS, dtype=object)
        c1 = np.where(
            male,
            male_chars[rng.integers(0, len(MALE_CHARS), total)],
            female_chars[rng.integers(0, len(FEMALE_CHARS), total)],
        )
        c2 = np.where(
            male,
            male_chars[rng.integers(0, len(MALE_CHARS), total)],
            female_chars[rng.integers(0, len(FEMALE_CHARS), total)],
        )
        c2 = np.where(rng.random(total) < 0.15, "", c2)
        names = [a + b + c for a, b, c in zip(surname.tolist(), c1.tolist(), c2.tolist(), strict=True)]

        # Health, schooling, work capacity (consistent with age and disability).
        disability_p = np.select([age < 16, age < 45, age < 60, age < 75], [0.015, 0.036, 0.07, 0.14], 0.25)
        disabled = rng.random(total) < disability_p
        category = (rng.choice(7, total, p=DISABILITY_CATEGORY_P) + 1).astype(np.int64)
        grade = (rng.choice(4, total, p=DISABILITY_GRADE_P) + 1).astype(np.int64)
        ill_p = np.select([age < 16, age < 45, age < 60], [0.004, 0.01, 0.025], 0.05)
        ill = rng.random(total) < ill_p
        student_p = np.select([age < 6, age < 16, age < 19, age < 23], [0.0, 0.98, 0.85, 0.35], 0.0)
        student = rng.random(total) < student_p
        severe = disabled & (grade <= 2)
        no_capacity = (age < 16) | (age >= 70) | severe | (ill & (rng.random(total) < 0.5))
        partial = ~no_capacity & ((age >= 60) | (disabled & (grade >= 3)) | ill)
        capacity = np.where(no_capacity, "none", np.where(partial, "partial", "full"))

        rural_p = ~urban[hh]
        working_age = (age >= 18) & (age < 60)
        no_worker = np.bincount(hh, weights=working_age.astype(float), minlength=n) == 0
        left_behind = np.select(
            [
                rural_p & (age >= 60) & no_worker[hh] & (rng.random(total) < 0.5),
                rural_p & (age < 16) & (rng.random(total) < 0.05),
                rural_p & ~male & (age >= 20) & (age < 56) & (role == SPOUSE) & (rng.random(total) < 0.03),
            ],
            ["elderly", "child", "woman"],
            "",
        )

        person_ids = np.arange(self.next_ids["person"], self.next_ids["person"] + total, dtype=np.int64)
        self.next_ids["person"] += total
        hh_ids = np.arange(self.next_ids["household"], self.next_ids["household"] + n, dtype=np.int64)
        self.next_ids["household"] += n

        phone_p = np.where(role == HEAD, 0.9, np.where((age >= 18) & (age < 76), 0.5, 0.0))
        has_phone = rng.random(total) < phone_p
        phone_prefix = rng.choice(np.array([3, 5, 7, 8, 9]), total)
        phone_rest = rng.integers(0, 1_000_000_000, total)
        phones = [
            f"1{p}{r:09d}" if h else ""
            for h, p, r in zip(has_phone.tolist(), phone_prefix.tolist(), phone_rest.tolist(), strict=True)
        ]
        cat_s = np.where(disabled, category.astype(str), "").tolist()
        grade_l: list[Any] = np.where(disabled, grade, 0).tolist()
        cert = [f"{i}{c}{g}" if c else "" for i, c, g in zip(id_numbers, cat_s, grade_l, strict=True)]
        hiv = rng.random(total) < 0.0005
        protection = (age >= 18) & (rng.random(total) < 0.0005)
        confidential = rng.random(total) < 0.002
        person = {
            "id": person_ids.tolist(),
            "id_number": id_numbers,
            "name": names,
            "sex": np.where(male, "1", "2").tolist(),
            "birth_date": _dates(birth),
            "ethnicity": ethnicity,
            "phone": phones,
            "labour_capacity": capacity.tolist(),
            "disability_category": cat_s,
            "disability_grade": [g or None for g in grade_l],
            "disability_cert_no": cert,
            "serious_illness": ill.tolist(),
            "student": student.tolist(),
            "left_behind": left_behind.tolist(),
            "hiv": hiv.tolist(),
            "protection_order": protection.tolist(),
            "confidential": confidential.tolist(),
            "death_date": [None] * total,
            "version": [1] * total,
            "created_at": [self.now] * total,
            "updated_at": [self.now] * total,
        }

        # 建档立卡: mostly rural, more in the national poverty counties; almost all exited 2016-2020.
        poor_p = np.where(urban, 0.01, np.where(poverty_county, 0.28, 0.10))
        registered = rng.random(n) < poor_p
        exited = registered & (rng.random(n) < 0.98)
        exit_year = rng.choice(EXIT_YEARS, n, p=EXIT_YEAR_P)
        status = np.where(exited, "exited", np.where(registered, "poor", "not_poor"))
        registered_since = ref - rng.integers(365, 3650, n).astype("timedelta64[D]")
        head_idx = hh_start
        addresses = plan.village_address
        household = {
            "id": hh_ids.tolist(),
            "number": [f"{plan.villages[v].code}{s:06d}" for v, s in zip(village.tolist(), seq.tolist(), strict=True)],
            "region_id": [plan.villages[v].code for v in village.tolist()],
            "address": [f"{addresses[v]}{s}号" for v, s in zip(village.tolist(), seq.tolist(), strict=True)],
            "hukou_type": np.where(urban, "urban", "rural").tolist(),
            "registered_poor": registered.tolist(),
            "poverty_status": status.tolist(),
            "poverty_exit_year": [
                int(y) if e else None for y, e in zip(exit_year.tolist(), exited.tolist(), strict=True)
            ],
            "head_id": person_ids[head_idx].tolist(),
            "status": ["active"] * n,
            "version": [1] * n,
            "created_at": [self.now] * n,
            "updated_at": [self.now] * n,
        }
        member_start = np.maximum(birth, registered_since[hh])
        membership = {
            "id": list(range(self.next_ids["membership"], self.next_ids["membership"] + total)),
            "household_id": hh_ids[hh].tolist(),
            "person_id": person_ids.tolist(),
            "relation": relation.tolist(),
            "start_date": _dates(member_start),
            "end_date": [None] * total,
            "end_reason": [""] * total,
        }
        self.next_ids["membership"] += total

        tables = {"person": person, "household": household, "membership": membership}
        tables.update(
            self._items(
                rng,
                n=n,
                hh=hh,
                age=age,
                urban=urban,
                registered=registered,
                capacity=capacity,
                student=student,
                disabled=disabled,
                grade=grade,
                category=category,
                ill=ill,
                size=size,
                hh_ids=hh_ids,
                person_ids=person_ids,
            )
        )
        return Batch(tables=tables, households=n, persons=total)

    def _items(
        self,
        rng: np.random.Generator,
        *,
        n: int,
        hh: np.ndarray,
        age: np.ndarray,
        urban: np.ndarray,
        registered: np.ndarray,
        capacity: np.ndarray,
        student: np.ndarray,
        disabled: np.ndarray,
        grade: np.ndarray,
        category: np.ndarray,
        ill: np.ndarray,
        size: np.ndarray,
        hh_ids: np.ndarray,
        person_ids: np.ndarray,
    ) -> dict[str, dict[str, list[Any]]]:
        total = len(hh)
        people = np.arange(total)
        p_urban, p_poor = urban[hh], registered[hh]
        incomes, assets, expenses = _ItemBuilder(), _ItemBuilder(), _ItemBuilder()

        working = (age >= 16) & (age < 60) & (capacity != "none") & ~student
        employ_p = np.where(p_urban, 0.75, 0.62) * np.where(capacity == "partial", 0.4, 1.0) * np.where(p_poor, 0.7, 1)
        employed = working & (rng.random(total) < employ_p)
        # Most households with someone able to work have at least one earner.
        no_earner = np.bincount(hh, weights=employed.astype(float), minlength=n) == 0
        candidates = people[working & no_earner[hh] & (rng.random(n) < 0.8)[hh]]
        _, first = np.unique(hh[candidates], return_index=True)
        employed[candidates[first]] = True
        median = np.where(p_urban, 3600.0, np.where(p_poor, 1800.0, 2300.0)) * np.where(capacity == "partial", 0.6, 1)
        sel = people[employed]
        incomes.add(hh[sel], sel, "wage", _lognormal_cents(rng, median[sel], 0.45, len(sel)))
        unemployed = working & ~employed & p_urban & (rng.random(total) < 0.03)
        sel = people[unemployed]
        incomes.add(hh[sel], sel, "unemployment", np.full(len(sel), 120_000, dtype=np.int64))

        farms = ~urban & (rng.random(n) < 0.75)
        sel = np.flatnonzero(farms)
        incomes.add(
            sel, None, "business", _lognormal_cents(rng, np.where(registered[sel], 1000.0, 1500.0), 0.6, len(sel))
        )
        retired = (age >= 60) & p_urban & (rng.random(total) < 0.55)
        sel = people[retired]
        incomes.add(hh[sel], sel, "pension", _lognormal_cents(rng, 3300.0, 0.3, len(sel)))
        sel = people[(age >= 60) & ~retired]
        incomes.add(hh[sel], sel, "pension_basic", np.where(age[sel] >= 65, 18_800, 17_800).astype(np.int64))
        sel = people[disabled & (grade <= 2) & (rng.random(total) < 0.6)]
        incomes.add(hh[sel], sel, "disability_subsidy", np.full(len(sel), 8_000, dtype=np.int64))
        # Elderly without working-age members at home are mostly supported by children living elsewhere.
        no_worker = np.bincount(hh, weights=((age >= 18) & (age < 60)).astype(float), minlength=n) == 0
        sel = people[(age >= 60) & no_worker[hh] & (rng.random(total) < 0.5)]
        incomes.add(hh[sel], sel, "support", rng.integers(20, 61, len(sel)).astype(np.int64) * 1_000)
        sel = people[(age >= 60) & (rng.random(total) < 0.04)]
        incomes.add(hh[sel], sel, "family_planning_award", np.full(len(sel), 8_000, dtype=np.int64))

        households = np.arange(n)
        deposit = rng.random(n) < np.where(registered, 0.5, 0.8)
        sel = households[deposit]
        dep_median = np.where(registered[sel], 3000.0, np.where(urban[sel], 40000.0, 12000.0))
        assets.add(sel, None, "deposit", _lognormal_cents(rng, dep_median, 1.0, len(sel)))
        vehicle = rng.random(n) < np.where(registered, 0.01, np.where(urban, 0.22, 0.08))
        sel = households[vehicle]
        assets.add(sel, None, "vehicle", rng.integers(30_000, 200_000, len(sel)).astype(np.int64) * 100)
        home = rng.random(n) < np.where(urban, 0.8, 0.95)
        sel = households[home]
        home_median = np.where(urban[sel], 600_000.0, 120_000.0)
        home_count = np.where(rng.random(len(sel)) < 0.06, 2, 1).astype(np.int64)
        assets.add(sel, None, "residential_property", _lognormal_cents(rng, home_median, 0.5, len(sel)), home_count)
        sel = households[~registered & (rng.random(n) < 0.02)]
        assets.add(sel, None, "commercial_property", _lognormal_cents(rng, 300_000.0, 0.6, len(sel)))
        sel = households[~registered & (rng.random(n) < np.where(urban, 0.06, 0.04))]
        assets.add(sel, None, "business_registration", _lognormal_cents(rng, 50_000.0, 0.8, len(sel)))
        sel = people[disabled & (category == 4) & (rng.random(total) < 0.05)]
        assets.add(hh[sel], sel, "disabled_mobility", np.full(len(sel), 500_000, dtype=np.int64))

        sel = people[ill]
        expenses.add(hh[sel], sel, "medical", _lognormal_cents(rng, 1500.0, 0.6, len(sel)))
        sel = people[~ill & (age >= 70) & (rng.random(total) < 0.1)]
        expenses.add(hh[sel], sel, "medical", _lognormal_cents(rng, 300.0, 0.6, len(sel)))
        sel = people[student & (age >= 16)]
        expenses.add(hh[sel], sel, "education", _lognormal_cents(rng, 800.0, 0.5, len(sel)))
        sel = people[student & (age < 16) & (rng.random(total) < 0.2)]
        expenses.add(hh[sel], sel, "education", _lognormal_cents(rng, 200.0, 0.5, len(sel)))
        sel = people[disabled & (grade <= 2) & (rng.random(total) < 0.3)]
        expenses.add(hh[sel], sel, "disability", _lognormal_cents(rng, 400.0, 0.5, len(sel)))

        out = {}
        for name, builder, column in (
            ("income", incomes, "monthly_amount"),
            ("asset", assets, "value"),
            ("expense", expenses, "monthly_amount"),
        ):
            table = builder.build(
                next_id=self.next_ids[name],
                hh_ids=hh_ids,
                person_ids=person_ids,
                rng=rng,
                now=self.now,
                amount_column=column,
            )
            self.next_ids[name] += len(table["id"])
            out[name] = table
        return out


def _zipf(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """Indexes into a list ordered by frequency (common surnames first)."""
    p = 1.0 / np.arange(1, size + 1) ** 0.9
    return rng.choice(size, count, p=p / p.sum())


# ----------------------------------------------------------------------------------------------- writers


def _columns(model: type[models.Model]) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


class _Writer:
    """`encode` is pure (it runs in the generating thread); `send` talks to the database."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.qn = connection.ops.quote_name  # bound here: `connection` is per thread, encode runs in another

    def prepare(self) -> None:
        """Before the load."""

    def encode(self, table: str, columns: dict[str, list[Any]]) -> Any:
        raise NotImplementedError

    def send(self, encoded: Any) -> None:
        raise NotImplementedError

    def finish(self, progress: Callable[[str], None]) -> None:
        """After the load."""


class _SqliteWriter(_Writer):
    def __init__(self, cursor: Any, now: dt.datetime) -> None:
        super().__init__(cursor)
        self._now_text = connection.ops.adapt_datetimefield_value(now)

    def encode(self, table: str, columns: dict[str, list[Any]]) -> Any:
        if not columns["id"]:
            return None
        values = [
            [self._now_text] * len(col) if col and isinstance(col[0], dt.datetime) else col for col in columns.values()
        ]
        qn = self.qn
        # Identifiers come from the models' metadata, quoted by the backend; values are parameters.
        sql = (
            f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        return sql, list(zip(*values, strict=True))

    def send(self, encoded: Any) -> None:
        if encoded is not None:
            self.cursor.executemany(*encoded)


def _pg_text(values: list[Any]) -> list[str]:
    if not values:
        return []
    sample = values[0]
    if isinstance(sample, bool):
        return ["t" if v else "f" for v in values]
    if isinstance(sample, dt.datetime):
        return [sample.isoformat()] * len(values)
    if isinstance(sample, str) and None not in values:
        return values
    if isinstance(sample, int) and None not in values:
        return list(map(str, values))
    return ["\\N" if v is None else str(v) for v in values]


class _PostgresWriter(_Writer):
    """COPY into the real tables; secondary indexes and constraints are rebuilt once at the end."""

    def __init__(self, cursor: Any) -> None:
        super().__init__(cursor)
        self.tables = [m._meta.db_table for m in TABLE_MODELS.values()]
        self.rebuild: list[str] = []

    def prepare(self) -> None:
        c = self.cursor
        # Index builds sort in memory and foreign-key validation joins hash in memory (this transaction only).
        c.execute("SET LOCAL maintenance_work_mem = '512MB'")
        c.execute("SET LOCAL work_mem = '256MB'")
        # Constraints (unique, foreign key) of the registry tables that no other table's key depends on.
        c.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
            FROM pg_constraint c
            WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('u', 'f')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                              WHERE f.contype = 'f' AND f.conindid = c.conindid AND c.contype = 'u')
            ORDER BY c.contype DESC, c.conname
            """,
            [self.tables],
        )
        constraints = c.fetchall()
        c.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 1
            """,
            [self.tables],
        )
        indexes = c.fetchall()
        qn = connection.ops.quote_name
        for table, name, _definition, _kind in constraints:
            c.execute(f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}")
        for name, _definition in indexes:
            c.execute(f"DROP INDEX {name}")
        # Rebuild order: plain indexes, unique constraints, then foreign keys (validated by one join each).
        self.rebuild = [definition for _name, definition in indexes]
        self.rebuild += [f"ALTER TABLE {t} ADD CONSTRAINT {qn(n)} {d}" for t, n, d, k in constraints if k == "u"]
        self.rebuild += [f"ALTER TABLE {t} ADD CONSTRAINT {qn(n)} {d}" for t, n, d, k in constraints if k == "f"]

    def encode(self, table: str, columns: dict[str, list[Any]]) -> Any:
        if not columns["id"]:
            return None
        qn = self.qn
        texts = [_pg_text(col) for col in columns.values()]
        payload = ("\n".join(map("\t".join, zip(*texts, strict=True))) + "\n").encode()
        return f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN", payload

    def send(self, encoded: Any) -> None:
        if encoded is None:
            return
        sql, payload = encoded
        with self.cursor.copy(sql) as copy:
            copy.write(payload)

    def finish(self, progress: Callable[[str], None]) -> None:
        progress("正在重建索引和约束……")
        # The new regions' own (deferred) parent checks must run before core_region can be altered by the
        # household → region foreign key; only those constraints are switched, and switched back.
        self.cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f' AND condeferred",
            [Region._meta.db_table],
        )
        region_fks = ", ".join(connection.ops.quote_name(name) for (name,) in self.cursor.fetchall())
        if region_fks:
            self.cursor.execute(f"SET CONSTRAINTS {region_fks} IMMEDIATE")
            self.cursor.execute(f"SET CONSTRAINTS {region_fks} DEFERRED")
        for statement in self.rebuild:
            self.cursor.execute(statement)
        # Fresh statistics, regions included: with the new villages unanalysed the planner takes a scope's
        # region subtree for a handful of rows and joins households to it row by row (seconds at 1M).
        for table in [*self.tables, Region._meta.db_table]:
            self.cursor.execute(f"ANALYZE {table}")


@dataclass
class _Encoded:
    tables: list[Any]
    households: int
    persons: int
    rows: dict[str, int]
    registered_poor: int


def _encoded_groups(generator: ProvinceGenerator, writer: _Writer, batch_size: int) -> Iterator[_Encoded]:
    """Group chunks into writes of about `batch_size` households and encode them for the writer."""
    expected = {name: sorted(_columns(model)) for name, model in TABLE_MODELS.items()}
    pending: list[Batch] = []

    def encode() -> _Encoded:
        tables, rows = [], {}
        for name, model in TABLE_MODELS.items():
            merged = _merge([b.tables[name] for b in pending])
            if sorted(merged) != expected[name]:
                missing = sorted(set(expected[name]) - set(merged))
                raise RuntimeError(f"seed does not fill {model._meta.db_table} columns {missing}")
            tables.append(writer.encode(model._meta.db_table, merged))
            rows[name] = len(merged["id"])
        group = _Encoded(
            tables=tables,
            households=sum(b.households for b in pending),
            persons=sum(b.persons for b in pending),
            rows=rows,
            registered_poor=sum(sum(b.tables["household"]["registered_poor"]) for b in pending),
        )
        pending.clear()
        return group

    for batch in generator:
        pending.append(batch)
        if sum(b.households for b in pending) >= batch_size:
            yield encode()
    if pending:
        yield encode()


_DONE = object()


def _in_background(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run an iterator in a thread, so that generating the next batch overlaps the database loading this one."""
    out: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(_DONE)
        except BaseException as exc:  # handed to the consuming thread, which re-raises it
            out.put(exc)

    thread = threading.Thread(target=produce, name="seed-generator", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


# ------------------------------------------------------------------------------------------------- seed


def _refuse_if_not_empty() -> None:
    if Household.objects.exists() or Person.objects.exists():
        raise ApplicationError(
            "seed_not_empty",
            "数据库中已有家庭或人员数据，合成数据只能写入空库。请使用新的数据库（或先清空登记数据）后再生成。",
            "households",
            status=409,
        )
    if Region.objects.filter(synthetic=True).exists():
        raise ApplicationError(
            "seed_not_empty",
            "数据库中已有合成的乡镇或村（社区）区划，合成数据只能写入空库。请使用新的数据库后再生成。",
            "households",
            status=409,
        )


def seed_province(
    *,
    households: int,
    seed: int,
    batch_size: int = 50_000,
    progress: Callable[[str], None] | None = None,
) -> SeedResult:
    """Seed a deterministic synthetic province into an empty registry, in one transaction with one audit record.

    `batch_size` is the number of households per write, in whole generation chunks (`CHUNK_HOUSEHOLDS`); it
    bounds memory and does not change the data.
    """
    if households < 0:
        raise ApplicationError("invalid", "户数不能为负数", "households")
    if batch_size < 1:
        raise ApplicationError("invalid", "批量大小至少为1", "batch_size")
    say = progress or (lambda _msg: None)
    began = time.monotonic()
    postgres = connection.vendor == "postgresql"
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            # Nobody may add registry rows while we check emptiness and load with pre-assigned keys.
            tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in TABLE_MODELS.values())
            cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
        _refuse_if_not_empty()
        units = county_units()
        if not units:
            raise ApplicationError("no_regions", "区划数据尚未初始化，请先执行数据库迁移", "households")
        plan = plan_regions(units, households, seed)
        writer: _Writer = _PostgresWriter(cursor) if postgres else _SqliteWriter(cursor, now)
        writer.prepare()
        say(f"正在创建 {len(plan.townships):,} 个乡镇（街道）和 {len(plan.villages):,} 个村（社区）……")
        Region.objects.bulk_create(
            [
                Region(code=r.code, name=r.name, level=r.level, parent_id=r.parent_code, path=r.path, synthetic=True)
                for r in plan.townships + plan.villages
            ],
            batch_size=2_000,
        )
        first_ids = {
            name: (model._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1 for name, model in TABLE_MODELS.items()
        }
        generator = ProvinceGenerator(plan, households, seed, first_ids, now)
        result = SeedResult(townships=len(plan.townships), villages=len(plan.villages), seed=seed)
        for group in _in_background(_encoded_groups(generator, writer, batch_size)):
            for encoded in group.tables:
                writer.send(encoded)
            result.households += group.households
            result.persons += group.persons
            result.memberships += group.rows["membership"]
            result.incomes += group.rows["income"]
            result.assets += group.rows["asset"]
            result.expenses += group.rows["expense"]
            result.registered_poor += group.registered_poor
            say(f"已写入 {result.households:,}/{households:,} 户，{result.persons:,} 人")
        writer.finish(say)
        if postgres:
            for statement in connection.ops.sequence_reset_sql(no_style(), list(TABLE_MODELS.values())):
                cursor.execute(statement)
        result.seconds = time.monotonic() - began
        province = Region.objects.filter(parent__isnull=True).order_by("code").first()
        audit_log_create(
            scope=system_scope(),
            action=AuditAction.CREATE,
            subject_type="seed",
            subject_id=f"seed-{seed}",
            region_code=province.code if province else None,
            after={
                **result.counts(),
                "parameters": {
                    "households": households,
                    "seed": seed,
                    "batch_size": batch_size,
                    "reference_date": REFERENCE_DATE.isoformat(),
                },
            },
            note="合成演示数据",
        )
    say("合成数据已生成")
    return result


def _merge(parts: list[dict[str, list[Any]]]) -> dict[str, list[Any]]:
    if len(parts) == 1:
        return parts[0]
    return {col: list(chain.from_iterable(p[col] for p in parts)) for col in parts[0]}
