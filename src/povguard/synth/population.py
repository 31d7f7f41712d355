"""Initial population of the twin: households, persons, assets, registration history.

Everything is generated column-wise with numpy. Household compositions come from
templates of roles (head, spouse, children, children-in-law, grandchildren, parents)
chosen by household size, which reproduces the aging, skip-generation ("left-behind")
households of the rural west.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from povguard.synth.geography import Geography, birth_regions
from povguard.synth.idcard import make_ids
from povguard.synth.names import NameGenerator, split_name
from povguard.synth.params import SynthParams

# Relation to head (code -> Chinese label used in feeds and registry).
HEAD, SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD, PARENT, OTHER = range(7)
RELATIONS: tuple[str, ...] = ("户主", "配偶", "子女", "儿媳/女婿", "孙子女", "父母", "其他")
EDUCATION: tuple[str, ...] = ("学龄前/文盲", "小学", "初中", "高中/中专", "大专及以上")
SCHOOL: tuple[str, ...] = ("非在校生", "在校生", "辍学")
DISABILITY_TYPES: tuple[str, ...] = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
HOUSE_GRADES: tuple[str, ...] = ("A", "B", "C", "D")
#: Risk causes (code -> Chinese label), DOMAIN.md section 7.
CAUSES: tuple[str, ...] = (
    "illness",
    "schooling",
    "disability",
    "natural_disaster",
    "accident",
    "industry_failure",
    "unstable_work",
    "lack_of_labour",
    "other",
)
CAUSES_ZH: tuple[str, ...] = (
    "因病",
    "因学",
    "因残",
    "因自然灾害",
    "因意外事故",
    "因产业项目失败",
    "因务工就业不稳",
    "缺劳动力",
    "其他",
)

# templates of roles per household size (roles, probability)
_TEMPLATES: dict[int, list[tuple[tuple[int, ...], float]]] = {
    1: [((HEAD,), 1.0)],
    2: [((HEAD, SPOUSE), 0.72), ((HEAD, CHILD), 0.16), ((HEAD, GRANDCHILD), 0.12)],
    3: [
        ((HEAD, SPOUSE, CHILD), 0.62),
        ((HEAD, SPOUSE, GRANDCHILD), 0.14),
        ((HEAD, SPOUSE, PARENT), 0.12),
        ((HEAD, CHILD, GRANDCHILD), 0.12),
    ],
    4: [
        ((HEAD, SPOUSE, CHILD, CHILD), 0.5),
        ((HEAD, SPOUSE, GRANDCHILD, GRANDCHILD), 0.15),
        ((HEAD, SPOUSE, CHILD, PARENT), 0.15),
        ((HEAD, SPOUSE, CHILD, CHILD_IN_LAW), 0.2),
    ],
    5: [
        ((HEAD, SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD), 0.5),
        ((HEAD, SPOUSE, CHILD, CHILD, CHILD), 0.25),
        ((HEAD, SPOUSE, CHILD, CHILD, PARENT), 0.25),
    ],
    6: [
        ((HEAD, SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD, GRANDCHILD), 0.6),
        ((HEAD, SPOUSE, CHILD, CHILD, PARENT, PARENT), 0.2),
        ((HEAD, SPOUSE, CHILD, CHILD, CHILD, CHILD), 0.2),
    ],
    7: [
        ((HEAD, SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD, GRANDCHILD, GRANDCHILD), 0.6),
        ((HEAD, SPOUSE, PARENT, CHILD, CHILD_IN_LAW, GRANDCHILD, GRANDCHILD), 0.4),
    ],
    8: [((HEAD, SPOUSE, PARENT, CHILD, CHILD_IN_LAW, GRANDCHILD, GRANDCHILD, GRANDCHILD), 1.0)],
}

EPOCH_DAY = np.datetime64("1970-01-01", "D")


def days(d: np.datetime64 | str) -> int:
    """Days since 1970-01-01 of a date."""
    return int((np.datetime64(str(d)[:10], "D") - EPOCH_DAY).astype(np.int64))


@dataclass
class Persons:
    """Person columns (preallocated with spare capacity; ``n`` rows are in use)."""

    n: int
    hh: np.ndarray  # int32 household index
    status: np.ndarray  # int8: 0 member, 1 dead, 2 moved out of the twin
    male: np.ndarray
    birth: np.ndarray  # int32 days since epoch
    rel: np.ndarray  # int8 relation to head
    ethnic: np.ndarray  # int8 index into ETHNIC_GROUPS
    id: np.ndarray  # <U18
    name: np.ndarray  # <U6
    edu: np.ndarray  # int8
    school: np.ndarray  # int8 index into SCHOOL
    chronic: np.ndarray
    serious: np.ndarray  # int8 months of treatment left
    serious_cost: np.ndarray  # float32 monthly treatment cost while ill
    disab: np.ndarray  # int8 grade 0 (none), 1 (most severe) .. 4
    disab_type: np.ndarray  # int8
    married: np.ndarray
    migrant: np.ndarray  # currently working away
    unemployed: np.ndarray  # int8 months since losing migrant work (0: not)
    caregiver: np.ndarray  # returned home to care for a patient
    mwage: np.ndarray  # float32 monthly migrant wage when working
    local: np.ndarray  # has local wage work
    lwage: np.ndarray  # float32
    insured: np.ndarray
    pub_emp: np.ndarray  # public employee

    def grow(self, extra: int) -> None:
        """Make room for ``extra`` more persons."""
        need = self.n + extra
        cap = self.hh.shape[0]
        if need <= cap:
            return
        new_cap = max(need, int(cap * 1.1) + 16)
        for name, arr in list(vars(self).items()):
            if isinstance(arr, np.ndarray):
                grown = np.zeros(new_cap, dtype=arr.dtype)
                grown[:cap] = arr
                setattr(self, name, grown)


@dataclass
class Households:
    """Household columns."""

    n: int
    code: np.ndarray  # <U16 household number: village code + 4 digits
    village: np.ndarray  # int32
    head: np.ndarray  # int32 person index of the head
    former_poor: np.ndarray
    reg_year: np.ndarray  # int16 (0: never registered)
    exit_year: np.ndarray  # int16
    reg_cause: np.ndarray  # int8 index into CAUSES
    monitor: np.ndarray  # int8: 0 none, 1 monitored, 2 risk eliminated (registry at start)
    monitor_type: np.ndarray  # int8: 0 none, 1 unstable former poor, 2 edge, 3 sudden hardship
    dibao: np.ndarray
    tekun: np.ndarray
    house: np.ndarray  # int8 house grade index
    farm_base: np.ndarray  # float32 yearly net farming income
    project: np.ndarray  # int8: 0 none, 1 running, 2 failed
    project_base: np.ndarray  # float32 yearly
    loan: np.ndarray  # float32 loan amount (0: none)
    loan_start: np.ndarray  # int32 day the loan was paid out
    loan_overdue: np.ndarray  # bool: due and not repaid
    business: np.ndarray
    business_inc: np.ndarray  # float32 monthly
    property_inc: np.ndarray  # float32 yearly
    car_owner: np.ndarray  # int32 person index (-1 none)
    house_owner: np.ndarray  # int32 person index owning commercial housing (-1 none)
    business_owner: np.ndarray  # int32 person index (-1 none)
    water_qty: np.ndarray  # float32 litres per person and day
    water_quality: np.ndarray  # bool: tested and fine
    water_minutes: np.ndarray  # float32 round trip to fetch water (0 if piped)
    water_piped: np.ndarray
    water_short_days: np.ndarray  # float32 shortfall days over the last 12 months
    crop_loss: np.ndarray  # float32 share of farming income lost
    crop_loss_left: np.ndarray  # int8 months the loss lasts
    remittance: np.ndarray  # float32 yearly money from non-resident children
    address: np.ndarray  # <U24


@dataclass
class Relatives:
    """Non-resident adult children (own registration) and their assets."""

    hh: np.ndarray
    name: np.ndarray
    id: np.ndarray
    male: np.ndarray
    birth: np.ndarray
    car: np.ndarray
    house: np.ndarray
    business: np.ndarray
    pub_emp: np.ndarray


@dataclass
class Population:
    """Persons, households and relatives of the twin."""

    persons: Persons
    households: Households
    relatives: Relatives
    names: NameGenerator = field(repr=False)


def _age_years(birth: np.ndarray, today: int) -> np.ndarray:
    return (today - birth) / 365.25


def build_population(
    geo: Geography, params: SynthParams, rng: np.random.Generator, today: int
) -> Population:
    """Generate the households and persons living in ``geo`` on day ``today``."""
    pp = params.population
    n_hh = int(geo.village_households.sum())
    hh_village = np.repeat(np.arange(geo.n_villages, dtype=np.int32), geo.village_households)
    hh_county = geo.village_county[hh_village]
    remote = geo.remoteness[hh_village]

    # --- composition ------------------------------------------------------------
    shares = np.asarray(pp.household_size_shares)
    size = rng.choice(np.arange(1, shares.size + 1), size=n_hh, p=shares / shares.sum())
    templates: list[tuple[int, ...]] = []
    tmpl_of = np.zeros(n_hh, dtype=np.int32)
    for s, options in _TEMPLATES.items():
        idx = np.flatnonzero(size == s)
        base = len(templates)
        probs = np.array([p for _, p in options])
        tmpl_of[idx] = base + rng.choice(len(options), size=idx.size, p=probs / probs.sum())
        templates.extend(roles for roles, _ in options)
    t_len = np.array([len(t) for t in templates])
    t_roles = np.full((len(templates), 8), -1, dtype=np.int8)
    for i, t in enumerate(templates):
        t_roles[i, : len(t)] = t
    has_g = (t_roles == GRANDCHILD).any(axis=1)
    has_p = (t_roles == PARENT).any(axis=1)

    n_members = t_len[tmpl_of]
    n_p = int(n_members.sum())
    p_hh = np.repeat(np.arange(n_hh, dtype=np.int32), n_members)
    starts = np.cumsum(n_members) - n_members
    slot = np.arange(n_p) - np.repeat(starts, n_members)
    rel = t_roles[tmpl_of[p_hh], slot]

    # head age by template kind
    head_age = np.where(
        has_g[tmpl_of],
        rng.normal(63, 7, n_hh),
        np.where(has_p[tmpl_of], rng.normal(42, 7, n_hh), rng.normal(52, 13, n_hh)),
    )
    lone = size == 1
    head_age[lone] = np.where(
        rng.random(lone.sum()) < 0.65, rng.normal(72, 8, lone.sum()), rng.normal(45, 12, lone.sum())
    )
    head_age = _soft_clip(rng, head_age, 20, 95)
    ha = head_age[p_hh]
    age = np.select(
        [
            rel == HEAD,
            rel == SPOUSE,
            rel == CHILD,
            rel == CHILD_IN_LAW,
            rel == GRANDCHILD,
            rel == PARENT,
        ],
        [
            ha,
            ha + rng.normal(-2, 3, n_p),
            ha - rng.uniform(20, 34, n_p),
            ha - rng.uniform(22, 33, n_p),
            ha - rng.uniform(42, 62, n_p),
            ha + rng.uniform(22, 32, n_p),
        ],
        default=ha,
    )
    age = _soft_clip(rng, age, 0.05, 99)
    # parents of a young head cannot be younger than 42
    par = rel == PARENT
    age[par] = _soft_clip(rng, age[par], 42, 99)
    birth = (today - age * 365.25 - rng.uniform(0, 1, n_p)).astype(np.int32)
    age = _age_years(birth, today)

    head_male = rng.random(n_hh) < pp.head_male_share
    male = np.select(
        [rel == HEAD, rel == SPOUSE, rel == CHILD_IN_LAW],
        [head_male[p_hh], ~head_male[p_hh], rng.random(n_p) < 0.1],
        default=rng.random(n_p) < pp.births_sex_ratio_male,
    )
    married = (rel == SPOUSE) | (rel == CHILD_IN_LAW) | (rel == PARENT)
    married |= (
        (rel == HEAD)
        & (size[p_hh] > 1)
        & np.isin(tmpl_of[p_hh], np.flatnonzero((t_roles == SPOUSE).any(axis=1)))
    )
    married |= (
        (rel == CHILD)
        & np.isin(tmpl_of[p_hh], np.flatnonzero((t_roles == CHILD_IN_LAW).any(axis=1)))
        & (slot == 2)
    )

    # --- ethnicity and names ------------------------------------------------------
    weights = np.array([c.ethnic_weights for c in geo.counties])
    cum = np.cumsum(weights, axis=1)
    hh_eth = (rng.random(n_hh)[:, None] > cum[hh_county]).sum(axis=1).astype(np.int8)
    ethnic = hh_eth[p_hh].copy()
    outsider = (rel == SPOUSE) | (rel == CHILD_IN_LAW)
    mixed = outsider & (rng.random(n_p) < 0.15)
    ethnic[mixed] = (rng.random(mixed.sum())[:, None] > cum[hh_county[p_hh[mixed]]]).sum(axis=1)
    ethnic = np.minimum(ethnic, weights.shape[1] - 1).astype(np.int8)

    names = NameGenerator()
    family = names.surnames(n_hh, rng)
    # patrilineal surname for head's line; spouses, in-laws and parents of a female head differ
    own_surname = names.surnames(n_p, rng)
    line = (
        (rel == HEAD) | (rel == CHILD) | (rel == GRANDCHILD) | ((rel == PARENT) & head_male[p_hh])
    )
    surname = np.where(line, family[p_hh], own_surname)
    byear = (np.datetime64("1970-01-01") + birth.astype("timedelta64[D]")).astype("datetime64[Y]")
    birth_year = byear.astype(np.int64) + 1970
    given = names.given_names(male, birth_year, rng)
    name = names.full_names(surname, given)

    # --- IDs: birth registered in the county (10% elsewhere in the province) -----------------
    county_codes = np.array([c.code for c in geo.counties])
    region6 = county_codes[hh_county[p_hh]]
    moved = rng.random(n_p) < 0.1
    region6[moved] = county_codes[rng.integers(0, county_codes.size, moved.sum())]
    births = birth_regions()
    region6 = births.resolve(region6, birth_year, rng)
    ids = make_ids(region6, (EPOCH_DAY + birth.astype("timedelta64[D]")), male, rng)

    # --- education, health, work ----------------------------------------------------
    school = np.zeros(n_p, dtype=np.int8)
    in_school = ((age >= 6) & (age < 16)) | ((age >= 16) & (age < 19) & (rng.random(n_p) < 0.62))
    in_school |= (age >= 19) & (age < 23) & (rng.random(n_p) < 0.18)
    school[in_school] = 1
    cohort = np.clip((1990 - birth_year) / 50, 0, 1)  # older cohorts less schooled
    u = rng.random(n_p)
    edu = np.digitize(u + cohort * 0.45, [0.12, 0.45, 0.85, 0.96]).astype(np.int8)
    edu = np.clip(4 - edu, 0, 4).astype(np.int8)
    edu[age < 7] = 0
    edu[(age >= 7) & (age < 13)] = 1
    edu[(age >= 13) & (age < 16)] = np.minimum(edu[(age >= 13) & (age < 16)], 2)

    cp = pp.chronic_prevalence
    chronic = rng.random(n_p) < np.where(age < 40, cp[0], np.where(age < 60, cp[1], cp[2]))
    dis_p = pp.disability_prevalence * np.clip(age / 45, 0.2, 3.0) / 1.2
    disab = np.zeros(n_p, dtype=np.int8)
    has_dis = rng.random(n_p) < dis_p
    severe = rng.random(n_p) < pp.severe_disability_share
    disab[has_dis] = np.where(
        severe[has_dis], rng.integers(1, 3, has_dis.sum()), rng.integers(3, 5, has_dis.sum())
    )
    disab_type = rng.choice(
        len(DISABILITY_TYPES), n_p, p=[0.12, 0.24, 0.02, 0.30, 0.07, 0.09, 0.16]
    )

    able = (age >= 18) & (age < 56) & (school == 0) & ((disab == 0) | (disab >= 3))
    mig_share = geo.migrant_share[hh_village[p_hh]]
    migrant = able & (rng.random(n_p) < mig_share * 1.3)  # share of able adults
    ip = params.income
    mwage = rng.lognormal(np.log(ip.migrant_wage_median), ip.migrant_wage_sigma, n_p)
    local_ok = (age >= 18) & (age < 65) & ~migrant & (school == 0) & ((disab == 0) | (disab >= 3))
    local = local_ok & (rng.random(n_p) < pp.local_work_share)
    lwage = rng.lognormal(np.log(ip.local_wage_median), ip.local_wage_sigma, n_p)

    # --- households: income capacity, former-poor status ------------------------------
    farm = rng.lognormal(np.log(ip.farm_net_median), ip.farm_net_sigma, n_hh) * (1.1 - 0.3 * remote)
    exp_income = (
        np.bincount(
            p_hh,
            weights=migrant * mwage * 11 + local * lwage * 12 * ip.local_work_month_prob,
            minlength=n_hh,
        )
        + farm
        + np.bincount(p_hh, weights=(age >= 60) * ip.pension_monthly * 12, minlength=n_hh)
    )
    pc = exp_income / size
    rank = pc / np.median(pc)
    # incomes of the former poor have largely converged since 2020: weak income selection
    w = pp.former_poor_remote_tilt ** (remote * 2) / np.clip(rank, 0.2, 5) ** 0.3
    former_poor = _choose_share(rng, w, pp.former_poor_share)
    reg_year = np.where(former_poor, rng.integers(2014, 2019, n_hh), 0).astype(np.int16)
    exit_year = np.where(former_poor, np.minimum(reg_year + rng.integers(1, 6, n_hh), 2020), 0)
    cause_p = np.array([0.42, 0.09, 0.06, 0.04, 0.02, 0.02, 0.1, 0.15, 0.1])
    reg_cause = rng.choice(len(CAUSES), n_hh, p=cause_p / cause_p.sum()).astype(np.int8)

    insured = rng.random(n_p) < np.where(
        former_poor[p_hh], pp.insured_share_former_poor, pp.insured_share
    )
    # dibao: persons in the poorest households, few with labour
    hh_dibao = _choose_share(
        rng,
        np.exp(-3 * np.clip(rank, 0, 3)) * (1 + former_poor),
        pp.dibao_share * n_p / n_hh / size.mean(),
    )
    head_age_now = age[starts]
    tekun = lone & (head_age_now >= 70) & (rng.random(n_hh) < pp.tekun_share_elderly_alone)
    hh_dibao &= ~tekun

    gshares = np.asarray(pp.house_grade_shares)
    house = rng.choice(4, n_hh, p=gshares / gshares.sum()).astype(np.int8)
    house[former_poor & (house >= 2) & (rng.random(n_hh) < 0.8)] = (
        1  # renovated under the programme
    )

    project = (rng.random(n_hh) < ip.project_share * np.where(former_poor, 1.8, 0.7)).astype(
        np.int8
    )
    project_base = np.where(
        project == 1, rng.lognormal(np.log(ip.project_net_median), 0.5, n_hh), 0
    )
    loan = np.where(
        (project == 1) & (rng.random(n_hh) < ip.project_loan_share),
        np.round(rng.uniform(1, 5, n_hh)) * 10000,
        0.0,
    )
    loan_start = today - rng.integers(30, 3 * 365, n_hh)

    adult_first = _first_per_group(p_hh, (age >= 20) & (age < 70) & (rel != HEAD), n_hh)

    def assets(p_ord: float, p_fp: float) -> np.ndarray:
        """Owner (person index) of an asset per household: the head or another adult."""
        own = rng.random(n_hh) < np.where(former_poor, p_fp, p_ord)
        owner = np.where(own, starts, -1).astype(np.int32)
        alt = own & (rng.random(n_hh) < 0.3) & (adult_first >= 0)
        owner[alt] = adult_first[alt]
        return owner

    car_owner = assets(pp.car_share_ordinary, pp.car_share_former_poor)
    house_owner = assets(pp.commercial_house_share_ordinary, pp.commercial_house_share_former_poor)
    business_owner = assets(pp.business_share_ordinary, pp.business_share_former_poor)
    business = business_owner >= 0
    business_inc = np.where(
        business, rng.lognormal(np.log(ip.business_net_monthly_median), 0.5, n_hh), 0
    )
    pub_hh = rng.random(n_hh) < np.where(
        former_poor, pp.public_employee_share_former_poor, pp.public_employee_share_ordinary
    )
    # public-welfare posts for former-poor households without migrant income
    welfare_hh = former_poor & (rng.random(n_hh) < ip.welfare_job_share_former_poor)
    cand_w = local_ok & ~local
    first_w = _first_per_group(p_hh, cand_w, n_hh)
    wj = first_w[welfare_hh & (first_w >= 0)]
    local[wj] = True
    lwage[wj] = ip.welfare_job_monthly
    pub_emp = np.zeros(n_p, dtype=bool)
    cand = (age >= 22) & (age < 60) & (rel != PARENT)
    first_cand = _first_per_group(p_hh, cand, n_hh)
    ok = pub_hh & (first_cand >= 0)
    pub_emp[first_cand[ok]] = True
    migrant &= ~pub_emp
    local &= ~pub_emp

    # --- monitoring history ---------------------------------------------------------
    monitored = _choose_share(rng, 1 / np.clip(rank, 0.15, 5) ** 1.5, pp.monitored_share)
    monitor = np.where(
        monitored, np.where(rng.random(n_hh) < pp.monitored_eliminated_share, 2, 1), 0
    ).astype(np.int8)
    mtype = np.where(
        monitored, np.where(former_poor, 1, np.where(rng.random(n_hh) < 0.7, 2, 3)), 0
    ).astype(np.int8)

    # --- water ---------------------------------------------------------------------
    wt = geo.water_type[hh_village]
    piped = (wt <= 1) | ((wt == 2) & (rng.random(n_hh) < 0.8))
    qty = np.where(piped, rng.normal(70, 15, n_hh), rng.normal(48, 12, n_hh)).clip(10, 150)
    minutes = np.where(piped, 0.0, rng.gamma(2, 5, n_hh))
    quality = rng.random(n_hh) > np.where(wt == 3, 0.04, 0.01)
    short = np.where(piped, rng.gamma(1, 3, n_hh), rng.gamma(1.5, 8, n_hh))

    hh_code = np.char.add(
        geo.village_code[hh_village],
        np.char.zfill(
            (np.arange(n_hh) - np.searchsorted(hh_village, hh_village) + 1).astype(str), 4
        ),
    )
    group = rng.integers(1, 9, n_hh).astype(str)
    address = np.char.add(np.char.add(geo.village_name[hh_village], group), "组")

    persons = Persons(
        n=n_p,
        hh=p_hh,
        status=np.zeros(n_p, np.int8),
        male=male,
        birth=birth,
        rel=rel,
        ethnic=ethnic,
        id=ids,
        name=name,
        edu=edu,
        school=school,
        chronic=chronic,
        serious=np.zeros(n_p, np.int8),
        serious_cost=np.zeros(n_p, np.float32),
        disab=disab,
        disab_type=disab_type.astype(np.int8),
        married=married,
        migrant=migrant,
        unemployed=np.zeros(n_p, np.int8),
        caregiver=np.zeros(n_p, bool),
        mwage=mwage.astype(np.float32),
        local=local,
        lwage=lwage.astype(np.float32),
        insured=insured,
        pub_emp=pub_emp,
    )
    households = Households(
        n=n_hh,
        code=hh_code,
        village=hh_village,
        head=starts.astype(np.int32),
        former_poor=former_poor,
        reg_year=reg_year,
        exit_year=exit_year.astype(np.int16),
        reg_cause=np.where(former_poor, reg_cause, -1).astype(np.int8),
        monitor=monitor,
        monitor_type=mtype,
        dibao=hh_dibao,
        tekun=tekun,
        house=house,
        farm_base=farm.astype(np.float32),
        project=project,
        project_base=project_base.astype(np.float32),
        loan=loan.astype(np.float32),
        loan_start=loan_start.astype(np.int32),
        loan_overdue=np.zeros(n_hh, bool),
        business=business,
        business_inc=business_inc.astype(np.float32),
        property_inc=rng.lognormal(np.log(params.income.property_income_median), 0.8, n_hh).astype(
            np.float32
        ),
        car_owner=car_owner,
        house_owner=house_owner,
        business_owner=business_owner,
        water_qty=qty.astype(np.float32),
        water_quality=quality,
        water_minutes=minutes.astype(np.float32),
        water_piped=piped,
        water_short_days=short.astype(np.float32),
        crop_loss=np.zeros(n_hh, np.float32),
        crop_loss_left=np.zeros(n_hh, np.int8),
        remittance=np.zeros(n_hh, np.float32),
        address=address,
    )
    persons.grow(int(n_p * 0.08))
    relatives = _relatives(households, persons, params, rng, names, county_codes, hh_county, today)
    children = np.bincount(relatives.hh, minlength=n_hh)
    # grandchildren living without their parents: the migrant parents send child support
    parents = np.bincount(p_hh, weights=(rel == CHILD) | (rel == CHILD_IN_LAW), minlength=n_hh)
    orphaned = np.bincount(p_hh, weights=rel == GRANDCHILD, minlength=n_hh) * (parents == 0)
    households.remittance = (
        children * rng.lognormal(np.log(ip.remittance_yearly_median), 0.6, n_hh)
        + orphaned * rng.lognormal(np.log(ip.child_support_yearly_median), 0.5, n_hh)
    ).astype(np.float32)
    return Population(persons=persons, households=households, relatives=relatives, names=names)


def _soft_clip(rng: np.random.Generator, x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Clip into [lo, hi] without piling values on the bounds (they are spread over 4 years)."""
    x = np.where(x < lo, lo + rng.uniform(0, 4, x.shape), x)
    return np.where(x > hi, hi - rng.uniform(0, 4, x.shape), x)


def _choose_share(rng: np.random.Generator, weight: np.ndarray, share: float) -> np.ndarray:
    """Pick ``share`` of items without replacement with probability proportional to weight."""
    n = weight.size
    k = round(share * n)
    if k <= 0:
        return np.zeros(n, dtype=bool)
    # Efraimidis-Spirakis weighted sampling: keys u^(1/w), keep the k largest
    keys = np.log(rng.random(n)) / np.maximum(weight, 1e-12)
    chosen = np.zeros(n, dtype=bool)
    chosen[np.argpartition(-keys, k - 1)[:k]] = True
    return chosen


def _first_per_group(group: np.ndarray, mask: np.ndarray, n_groups: int) -> np.ndarray:
    """Index of the first row with ``mask`` per group (-1 if none)."""
    idx = np.flatnonzero(mask)
    first = np.full(n_groups, -1, dtype=np.int64)
    g = group[idx]
    uniq, pos = np.unique(g, return_index=True)
    first[uniq] = idx[pos]
    return first


def _relatives(
    hh: Households,
    persons: Persons,
    params: SynthParams,
    rng: np.random.Generator,
    names: NameGenerator,
    county_codes: np.ndarray,
    hh_county: np.ndarray,
    today: int,
) -> Relatives:
    pp = params.population
    head_birth = persons.birth[hh.head]
    head_age = (today - head_birth) / 365.25
    lam = pp.nonresident_children_mean * np.clip((head_age - 40) / 20, 0, 1.5)
    k = rng.poisson(lam)
    r_hh = np.repeat(np.arange(hh.n, dtype=np.int32), k)
    n = r_hh.size
    male = rng.random(n) < 0.5
    birth = (head_birth[r_hh] + rng.uniform(20, 34, n) * 365.25).astype(np.int32)
    birth = np.minimum(birth, today - int(19 * 365.25))
    head_surname = split_name(persons.name[hh.head])[0]
    family = np.where(persons.male[hh.head], head_surname, names.surnames(hh.n, rng))
    byear = (EPOCH_DAY + birth.astype("timedelta64[D]")).astype("datetime64[Y]").astype(np.int64)
    name = names.full_names(family[r_hh], names.given_names(male, byear + 1970, rng))
    region6 = birth_regions().resolve(county_codes[hh_county[r_hh]], byear + 1970, rng)
    ids = make_ids(
        region6,
        EPOCH_DAY + birth.astype("timedelta64[D]"),
        male,
        rng,
        existing=persons.id[: persons.n],
    )
    fp = hh.former_poor[r_hh]
    share = np.where(fp, pp.nonresident_asset_share_former_poor, pp.nonresident_asset_share)
    own = rng.random(n) < share
    kind = rng.integers(0, 4, n)
    return Relatives(
        hh=r_hh,
        name=name,
        id=ids,
        male=male,
        birth=birth,
        car=own & (kind == 0),
        house=own & (kind == 1),
        business=own & (kind == 2),
        pub_emp=own & (kind == 3),
    )
