"""Geography of the twin: real counties from ``cpca``, generated townships and villages.

County codes, names and coordinates come from the adcode table shipped with the
``cpca`` package. Townships and villages beneath them are generated with valid
12-digit region codes following GB/T 10114 numbering (towns 1xx, townships 2xx;
village committees 2xx) and get the attributes that drive the simulation.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from povguard.errors import ConfigError
from povguard.synth.params import PopulationParams

#: Ethnic groups (in the order of the ethnicity codes used by the twin).
ETHNIC_GROUPS: tuple[str, ...] = (
    "汉族",
    "苗族",
    "布依族",
    "侗族",
    "土家族",
    "彝族",
    "仡佬族",
    "水族",
    "回族",
    "白族",
)
#: Ethnic groups of Guizhou's non-titular minority population and their weights.
_OTHER_MINORITY = {
    "苗族": 0.35,
    "布依族": 0.25,
    "侗族": 0.12,
    "土家族": 0.12,
    "彝族": 0.06,
    "仡佬族": 0.05,
    "水族": 0.03,
    "回族": 0.02,
}

INDUSTRIES: tuple[str, ...] = (
    "粮食",
    "茶叶",
    "蔬菜",
    "畜牧",
    "水果",
    "中药材",
    "食用菌",
    "乡村旅游",
)
WATER_TYPES: tuple[str, ...] = ("城镇管网延伸", "千人以上集中供水", "小型集中供水", "分散供水")
DISASTERS: tuple[str, ...] = ("洪涝", "地质灾害", "干旱", "风雹")
DISASTERS_EN: tuple[str, ...] = ("flood", "landslide", "drought", "hail")

_SYLLABLES = [
    "大坝",
    "新寨",
    "高坡",
    "龙井",
    "石门",
    "水口",
    "青杠",
    "岩脚",
    "平寨",
    "坪上",
    "花溪",
    "沙坝",
    "红岩",
    "马场",
    "白岩",
    "中寨",
    "上坝",
    "下坝",
    "田坝",
    "金竹",
    "桃园",
    "杨柳",
    "鱼塘",
    "凉水",
    "黄泥",
    "松林",
    "桥头",
    "茶园",
    "河坝",
    "双井",
    "长田",
    "官庄",
    "新场",
    "兴隆",
    "团结",
    "光明",
    "和平",
    "联合",
    "群丰",
    "永安",
    "太平",
    "梨树",
    "核桃",
    "竹林",
    "营盘",
    "坡脚",
    "洞口",
    "岔河",
    "三合",
    "五里",
    "六合",
    "牛场",
    "羊场",
    "猫场",
    "狗场",
    "鸡场",
    "兔场",
    "龙场",
    "鼠场",
]


@dataclass(frozen=True)
class County:
    """A county-level region from the adcode table."""

    code: str  # 6 digits
    name: str
    prefecture: str
    lon: float
    lat: float
    is_district: bool
    ethnic_weights: tuple[float, ...]  # over ETHNIC_GROUPS


@dataclass
class Geography:
    """Counties, townships and villages of the twin, as parallel arrays.

    Village arrays are indexed by village number; ``village_code`` holds the
    12-digit region codes.
    """

    province_code: str
    province_name: str
    counties: list[County]
    township_code: np.ndarray
    township_name: np.ndarray
    township_county: np.ndarray  # index into counties
    village_code: np.ndarray
    village_name: np.ndarray
    village_township: np.ndarray  # index into township arrays
    village_county: np.ndarray  # index into counties
    village_lon: np.ndarray
    village_lat: np.ndarray
    village_households: np.ndarray  # households to generate per village
    remoteness: np.ndarray  # 0 (county seat) .. 1 (most remote)
    exposure: np.ndarray  # (villages, 4) relative exposure to flood, landslide, drought, hail
    water_type: np.ndarray  # index into WATER_TYPES
    industry: np.ndarray  # index into INDUSTRIES
    migrant_share: np.ndarray

    @property
    def n_villages(self) -> int:
        """Number of villages."""
        return int(self.village_code.shape[0])


def adcode_table() -> list[dict[str, str]]:
    """Rows of cpca's adcode table (adcode, name, longitude, latitude)."""
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the region table needs the 'cpca' package: pip install cpca")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _ethnic_weights(name: str, prefecture: str, params: PopulationParams) -> tuple[float, ...]:
    autonomous = "".join(n for n in (name, prefecture) if "自治" in n)
    titular = re.findall(r"(苗|布依|侗|土家|彝|仡佬|水|回|白)族", autonomous)
    groups = [g for g in dict.fromkeys(t + "族" for t in titular) if g in ETHNIC_GROUPS]
    weights = dict.fromkeys(ETHNIC_GROUPS, 0.0)
    if groups:
        minority = params.titular_share + 0.15
        for i, g in enumerate(groups):
            weights[g] += params.titular_share * (0.6 if i == 0 else 0.4 / (len(groups) - 1))
        rest = minority - params.titular_share
    else:
        rest = params.minority_share_non_autonomous
        minority = rest
    for g, w in _OTHER_MINORITY.items():
        weights[g] += rest * w
    weights["汉族"] = max(0.0, 1.0 - minority)
    total = sum(weights.values())
    return tuple(w / total for w in weights.values())


def load_counties(
    province: str, params: PopulationParams, only: list[str] | None = None
) -> tuple[str, list[County]]:
    """County-level regions of ``province`` (2-digit code) from the adcode table.

    Parameters
    ----------
    province:
        Two-digit province code, e.g. ``"52"`` for Guizhou.
    params:
        Population parameters (ethnic composition).
    only:
        Optional 6-digit county codes to keep.

    Returns
    -------
    tuple
        Province name and the list of counties, sorted by code.
    """
    if not re.fullmatch(r"\d{2}", province):
        raise ConfigError(f"province must be a 2-digit code, got {province!r}")
    rows = [r for r in adcode_table() if r["adcode"].startswith(province)]
    prov = [r for r in rows if r["adcode"] == f"{province}0000000000"]
    if not prov:
        raise ConfigError(f"unknown province code {province!r}")
    prefectures = {r["adcode"][:4]: r["name"] for r in rows if r["adcode"][4:6] == "00"}
    counties: list[County] = []
    for r in sorted(rows, key=lambda r: r["adcode"]):
        code = r["adcode"][:6]
        if code[4:6] == "00" or r["name"] == "市辖区" or not r["longitude"]:
            continue
        if only and code not in only:
            continue
        pref = prefectures.get(code[:4], "")
        counties.append(
            County(
                code=code,
                name=r["name"],
                prefecture=pref,
                lon=float(r["longitude"]),
                lat=float(r["latitude"]),
                is_district=r["name"].endswith("区"),
                ethnic_weights=_ethnic_weights(r["name"], pref, params),
            )
        )
    if only:
        missing = sorted(set(only) - {c.code for c in counties})
        if missing:
            raise ConfigError(f"county code(s) not in province {province}: {', '.join(missing)}")
    if not counties:
        raise ConfigError(f"no counties found for province {province!r}")
    return prov[0]["name"], counties


def _smooth_field(
    rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray, bumps: int
) -> np.ndarray:
    """A smooth random field over coordinates (sum of Gaussian bumps), scaled to mean 1."""
    c_lon = rng.uniform(lon.min() - 0.2, lon.max() + 0.2, bumps)
    c_lat = rng.uniform(lat.min() - 0.2, lat.max() + 0.2, bumps)
    width = rng.uniform(0.15, 0.6, bumps)
    field = np.full(lon.shape, 0.3)
    for x, y, w in zip(c_lon, c_lat, width, strict=True):
        field += np.exp(-((lon - x) ** 2 + (lat - y) ** 2) / (2 * w * w))
    result: np.ndarray = field / field.mean()
    return result


def build_geography(
    province: str,
    households: int,
    params: PopulationParams,
    rng: np.random.Generator,
    counties: int | None = None,
    county_codes: list[str] | None = None,
) -> Geography:
    """Generate townships and villages for ``households`` households.

    Households are spread over counties by weight (urban districts get fewer),
    then over villages of realistic size; townships group villages.
    """
    prov_name, all_counties = load_counties(province, params, county_codes)
    chosen = all_counties
    if counties is not None and not county_codes:
        if counties < 1:
            raise ConfigError("--counties must be at least 1")
        rural = [c for c in all_counties if not c.is_district] or all_counties
        idx = np.sort(rng.choice(len(rural), size=min(counties, len(rural)), replace=False))
        chosen = [rural[i] for i in idx]
    weights = np.array([params.district_weight if c.is_district else 1.0 for c in chosen])
    per_county = rng.multinomial(households, weights / weights.sum())

    lo, hi = params.households_per_village
    v_county: list[np.ndarray] = []
    v_sizes: list[np.ndarray] = []
    t_county: list[int] = []
    t_code: list[str] = []
    t_name: list[str] = []
    v_town: list[np.ndarray] = []
    v_code: list[str] = []
    v_name: list[str] = []
    n_syll = len(_SYLLABLES)
    for ci, (county, count) in enumerate(zip(chosen, per_county, strict=True)):
        n_hh = int(count)
        if n_hh == 0:
            continue
        n_vil = max(1, round(n_hh / ((lo + hi) / 2)))
        sizes = rng.multinomial(n_hh, rng.dirichlet(np.full(n_vil, 8.0)))
        vmin, vmax = params.villages_per_township
        town_of: list[int] = []
        start_town = len(t_code)
        left = n_vil
        while left > 0:
            k = min(left, int(rng.integers(vmin, vmax + 1)))
            t = len(t_code) - start_town
            kind = 100 + t if t < 12 else 200 + (t - 12)  # towns first, then townships
            t_code.append(f"{county.code}{kind:03d}")
            syl = _SYLLABLES[(ci * 7 + t * 13) % n_syll]
            t_name.append(syl + ("镇" if kind < 200 else "乡"))
            t_county.append(ci)
            town_of.extend([len(t_code) - 1] * k)
            for j in range(k):
                v_code.append(f"{t_code[-1]}{200 + j:03d}")
                v_name.append(_SYLLABLES[(t * 11 + j * 5 + ci) % n_syll] + "村")
            left -= k
        v_town.append(np.array(town_of, dtype=np.int32))
        v_county.append(np.full(n_vil, ci, dtype=np.int32))
        v_sizes.append(sizes)

    village_county = np.concatenate(v_county)
    village_town = np.concatenate(v_town)
    sizes_all = np.concatenate(v_sizes).astype(np.int64)
    n = village_county.shape[0]
    c_lon = np.array([c.lon for c in chosen])[village_county]
    c_lat = np.array([c.lat for c in chosen])[village_county]
    dist = np.abs(rng.normal(0, 0.12, n)) + np.abs(rng.normal(0, 0.06, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    lon = c_lon + dist * np.cos(angle)
    lat = c_lat + dist * np.sin(angle) * 0.9
    remoteness = np.clip(dist / 0.35 + rng.normal(0, 0.1, n), 0, 1)
    exposure = np.stack(
        [
            _smooth_field(rng, lon, lat, 12) * (1.2 - remoteness * 0.4),  # floods: valleys
            _smooth_field(rng, lon, lat, 12) * (0.6 + remoteness),  # landslides: mountains
            _smooth_field(rng, lon, lat, 6),
            _smooth_field(rng, lon, lat, 10),
        ],
        axis=1,
    )
    exposure *= rng.lognormal(0, 0.25, exposure.shape)
    # water supply: remote villages rely more on small or scattered systems
    u = rng.random(n) * 0.6 + remoteness * 0.55
    water_type = np.digitize(u, [0.25, 0.6, 0.95]).astype(np.int8)
    shares = np.array([0.3, 0.12, 0.14, 0.14, 0.1, 0.08, 0.06, 0.06])
    industry = np.asarray(rng.choice(len(INDUSTRIES), size=n, p=shares))
    migrant = np.clip(
        rng.beta(4, 9, n) * (0.8 + 0.6 * remoteness) * params.migrant_share_mean / (4 / 13), 0, 0.8
    )
    return Geography(
        province_code=province,
        province_name=prov_name,
        counties=chosen,
        township_code=np.array(t_code),
        township_name=np.array(t_name),
        township_county=np.array(t_county, dtype=np.int32),
        village_code=np.array(v_code),
        village_name=np.array(v_name),
        village_township=village_town,
        village_county=village_county,
        village_lon=lon,
        village_lat=lat,
        village_households=sizes_all,
        remoteness=remoteness,
        exposure=exposure,
        water_type=water_type,
        industry=industry.astype(np.int8),
        migrant_share=migrant,
    )


class BirthRegions:
    """Region codes as they were when a person was born (historical codes).

    Resident ID numbers carry the code of the county where the birth was first
    registered, as it was then: people born before a county was created or renamed
    carry an older code. The history comes from python-stdnum's region table.
    """

    def __init__(self) -> None:
        import importlib.resources

        text = (
            importlib.resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
        )
        self.spans: dict[str, list[tuple[int, int, str]]] = {}
        self._cache: dict[tuple[str, int, str], list[str]] = {}
        province = ""
        for line in text.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if not line.startswith(" "):
                province = line.split()[0]
                continue
            code, _, value = line.strip().partition(" ")
            code6 = province + code
            if code6.endswith("00"):
                continue
            names = value.partition("=")[2].strip('"')
            for part in names.split(","):
                m = re.fullmatch(r"\[(\d*)-(\d*)\](.*)", part)
                lo, hi, name = (m.group(1), m.group(2), m.group(3)) if m else ("", "", part)
                self.spans.setdefault(code6, []).append(
                    (int(lo) if lo else 0, int(hi) if hi else 9999, name)
                )

    def valid(self, code6: str, year: int) -> bool:
        """Whether ``code6`` was a county-level code in ``year``."""
        return any(lo <= year <= hi for lo, hi, _ in self.spans.get(code6, ()))

    def _candidates(self, prefix: str, year: int, name: str = "") -> list[str]:
        key = (prefix, year, name)
        if key not in self._cache:
            self._cache[key] = self._scan(prefix, year, name)
        return self._cache[key]

    def _scan(self, prefix: str, year: int, name: str) -> list[str]:
        return sorted(
            c
            for c, spans in self.spans.items()
            if c.startswith(prefix)
            and any(lo <= year <= hi and (not name or n == name) for lo, hi, n in spans)
        )

    def resolve(
        self, county6: np.ndarray, birth_year: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Birth-registration codes for people of ``county6`` born in ``birth_year``.

        The county's own code if it existed then; else a code of the same name,
        else of the same prefecture, else of the same province valid that year.
        """
        out = county6.astype("<U6").copy()
        keys = np.char.add(out, birth_year.astype(str))
        uniq, inverse = np.unique(keys, return_inverse=True)
        for k, key in enumerate(uniq.tolist()):
            code, year = key[:6], int(key[6:])
            if self.valid(code, year):
                continue
            rows = np.flatnonzero(inverse == k)
            names = {n for _, _, n in self.spans.get(code, ())}
            cands: list[str] = []
            for name in sorted(names):
                cands += self._candidates(code[:2], year, name)
            cands = cands or self._candidates(code[:4], year) or self._candidates(code[:2], year)
            if cands:
                out[rows] = np.asarray(cands)[rng.integers(0, len(cands), rows.size)]
        return out

    def outside(
        self, provinces: list[str], birth_year: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Random county codes of ``provinces`` valid in each ``birth_year``."""
        out = np.empty(birth_year.size, dtype="<U6")
        prov = np.asarray(provinces)[rng.integers(0, len(provinces), birth_year.size)]
        for i, (p, y) in enumerate(zip(prov.tolist(), birth_year.tolist(), strict=True)):
            cands = self._candidates(p, int(y))
            out[i] = cands[int(rng.integers(0, len(cands)))]
        return out


@functools.cache
def birth_regions() -> BirthRegions:
    """The shared :class:`BirthRegions` table (parsed once per process)."""
    return BirthRegions()
