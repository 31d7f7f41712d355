"""Population and geography built directly (no feeds): composition by county."""

from __future__ import annotations

import numpy as np
import pytest

from povguard.errors import ConfigError
from povguard.synth.geography import ETHNIC_GROUPS, birth_regions, build_geography, load_counties
from povguard.synth.params import SynthParams
from povguard.synth.population import build_population, days


def _population(county: str, households: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    params = SynthParams()
    rng = np.random.default_rng(3)
    geo = build_geography("52", households, params.population, rng, county_codes=[county])
    pop = build_population(geo, params, rng, today=days("2024-01-01"))
    p = pop.persons
    return p.ethnic[: p.n], p.id[: p.n]


def test_counties_come_from_the_adcode_table() -> None:
    name, counties = load_counties("52", SynthParams().population)
    assert name == "贵州省"
    assert len(counties) >= 80
    codes = {c.code: c for c in counties}
    assert codes["522633"].name == "从江县"
    assert 108 < codes["522633"].lon < 110 and 25 < codes["522633"].lat < 27
    with pytest.raises(ConfigError):
        load_counties("99", SynthParams().population)


def test_ethnicity_follows_autonomous_counties() -> None:
    miao = ETHNIC_GROUPS.index("苗族")
    # 松桃苗族自治县 against 湄潭县 (not autonomous)
    songtao, _ = _population("520628")
    meitan, _ = _population("520328")
    assert np.mean(songtao == miao) > 0.25
    assert np.mean(songtao != 0) > 0.55
    assert np.mean(meitan != 0) < 0.25


def test_birth_region_codes_were_valid_in_the_birth_year() -> None:
    _, ids = _population("520115", 800)  # 观山湖区 exists only since 2012
    regions = birth_regions()
    years = np.array([int(i[6:10]) for i in ids])
    assert all(regions.valid(i[:6], int(y)) for i, y in zip(ids, years, strict=True))
    assert any(i.startswith("520115") for i in ids[years >= 2012])
    assert not any(i.startswith("520115") for i in ids[years < 2012])
