"""The bureau's registry (households, persons, relatives, regions) in the analytics store."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from povguard.engine import Engine
from povguard.errors import ConfigError
from povguard.linkage.linker import UValues, engine_backend, estimate_u, prepare
from povguard.linkage.spec import LinkSpec, load_spec

REGISTRY_FILES = ("regions", "households", "persons", "relatives")
#: Registry persons (and heads only) prepared for the probabilistic linker.
REGISTRY_PERSONS = "registry_link_persons"
REGISTRY_HEADS = "registry_link_heads"
#: u probabilities of the person spec, estimated on the registry's persons.
REGISTRY_U = "registry_link_u"


def load_registry(engine: Engine, folder: Path, spec: LinkSpec | None = None) -> dict[str, int]:
    """Load ``folder/{regions,households,persons,relatives}.parquet`` into the store.

    Persons get the village code of their household and an ``is_head`` flag.
    They are also stored prepared for the probabilistic linker's ``spec``
    (default: the built-in ``person`` spec) as ``registry_link_persons`` (with the declared
    non-resident relatives, ``is_relative``, record id ``relative:<ID>``) and,
    heads only, ``registry_link_heads``. Returns row counts per table.

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
        "village_code", pa.array([village.get(h) for h in persons["household_id"].to_pylist()])
    )
    persons = persons.append_column("is_head", pc.equal(persons["relation"], "户主"))
    relatives = tables["relatives"]
    spec = spec or load_spec("person")
    # non-resident children and spouses (declared relatives) live elsewhere: no village
    n_rel = relatives.num_rows
    link_table = prepare(
        pa.table(
            {
                "record_id": pa.concat_arrays(
                    [
                        persons["id_number"].combine_chunks(),
                        pc.binary_join_element_wise(
                            "relative:", relatives["id_number"], ""
                        ).combine_chunks(),
                    ]
                ),
                "name": _cat(persons["name"], relatives["name"]),
                "id_number": _cat(persons["id_number"], relatives["id_number"]),
                "birth_date": _cat(persons["birth_date"], relatives["birth_date"]),
                "sex": _cat(persons["sex"], relatives["sex"]),
                "village_code": _cat(persons["village_code"], pa.nulls(n_rel, pa.string())),
            }
        ),
        spec,
        f"registry {folder}",
    )
    link_table = link_table.append_column(
        "household_id", _cat(persons["household_id"], relatives["household_id"])
    )
    link_table = link_table.append_column(
        "is_relative",
        pa.array([False] * persons.num_rows + [True] * n_rel, pa.bool_()),
    )
    heads = link_table.slice(0, persons.num_rows).filter(persons["is_head"])
    counts = {
        "regions": engine.replace_table("regions", tables["regions"]),
        "registry_households": engine.replace_table("registry_households", households),
        "registry_persons": engine.replace_table("registry_persons", persons),
        "registry_relatives": engine.replace_table("registry_relatives", relatives),
        REGISTRY_PERSONS: engine.replace_table(REGISTRY_PERSONS, link_table),
        REGISTRY_HEADS: engine.replace_table(REGISTRY_HEADS, heads),
    }
    u = estimate_u(REGISTRY_PERSONS, spec, backend=engine_backend(engine))
    rows = [(c, level, p) for c, levels in u.items() for level, p in levels.items()]
    counts[REGISTRY_U] = engine.replace_table(
        REGISTRY_U,
        pa.table(
            {
                "comparison": pa.array([r[0] for r in rows], pa.string()),
                "level": pa.array([r[1] for r in rows], pa.string()),
                "u": pa.array([r[2] for r in rows], pa.float64()),
            }
        ),
    )
    return counts


def _cat(a: pa.ChunkedArray | pa.Array, b: pa.ChunkedArray | pa.Array) -> pa.Array:
    parts = [x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x for x in (a, b)]
    return pa.concat_arrays([parts[0], parts[1].cast(parts[0].type)])


def registry_u(engine: Engine) -> UValues | None:
    """The u probabilities stored by :func:`load_registry` (None before a load)."""
    if not engine.exists(REGISTRY_U):
        return None
    out: UValues = {}
    for r in engine.fetch(engine.table(REGISTRY_U)).to_pylist():
        out.setdefault(r["comparison"], {})[r["level"]] = float(r["u"])
    return out
