"""The bureau's registry (households, persons, relatives, regions) in the analytics store."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from povguard.engine import Engine
from povguard.errors import ConfigError
from povguard.linkage.names import name_keys

REGISTRY_FILES = ("regions", "households", "persons", "relatives")


def load_registry(engine: Engine, folder: Path) -> dict[str, int]:
    """Load ``folder/{regions,households,persons,relatives}.parquet`` into the store.

    Persons and relatives get a ``name_key`` (toneless pinyin) and persons the
    village code of their household, for linkage. Returns row counts per table.

    Raises
    ------
    ConfigError
        When a registry file is missing or unreadable.
    """
    tables: dict[str, pa.Table] = {}
    for name in REGISTRY_FILES:
        path = folder / f"{name}.parquet"
        try:
            tables[name] = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise ConfigError(f"registry file {path}: {exc}") from exc
    households = tables["households"]
    village = dict(
        zip(
            households["household_id"].to_pylist(),
            households["village_code"].to_pylist(),
            strict=True,
        )
    )
    persons = tables["persons"]
    persons = persons.append_column(
        "name_key", pa.array(name_keys(persons["name"].to_numpy(zero_copy_only=False)))
    )
    persons = persons.append_column(
        "village_code", pa.array([village.get(h) for h in persons["household_id"].to_pylist()])
    )
    persons = persons.append_column("is_head", pc.equal(persons["relation"], "户主"))
    relatives = tables["relatives"]
    relatives = relatives.append_column(
        "name_key", pa.array(name_keys(relatives["name"].to_numpy(zero_copy_only=False)))
    )
    counts = {
        "regions": engine.replace_table("regions", tables["regions"]),
        "registry_households": engine.replace_table("registry_households", households),
        "registry_persons": engine.replace_table("registry_persons", persons),
        "registry_relatives": engine.replace_table("registry_relatives", relatives),
    }
    return counts
