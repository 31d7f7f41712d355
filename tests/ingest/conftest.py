"""Fixtures of the ingest tests: a small twin (generated once) and tiny mappings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from povguard.ingest import SourceMapping
from povguard.synth import TwinConfig, generate_twin


@pytest.fixture(scope="session")
def ingest_twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,500-household, 3-month twin (January to March: CSV, XLSX and JSON feeds)."""
    out = tmp_path_factory.mktemp("ingest-twin")
    generate_twin(TwinConfig(out=out, households=1500, months=3, counties=1, seed=11))
    return out


def person_mapping(**overrides: Any) -> SourceMapping:
    """A small CSV mapping of person records (claim number, name, ID, birth date, amount)."""
    data: dict[str, Any] = {
        "source": "claims",
        "department": "医疗保障局",
        "files": ["claims.*"],
        "format": "csv",
        "record_key": ["claim_no"],
        "person_keys": {"id": "id_number", "name": "name", "birth_date": "birth_date"},
        "identified_by": [["id_number"], ["name", "birth_date"]],
        "fields": [
            {"name": "claim_no", "headers": ["结算单号"], "type": "text", "required": True},
            {"name": "name", "headers": ["姓名", "参保人姓名"], "type": "name"},
            {
                "name": "id_number",
                "headers": ["公民身份号码", "身份证号", "身份证件号", "证件号码"],
                "type": "id",
            },
            {"name": "birth_date", "headers": ["出生日期"], "type": "date"},
            {"name": "amount", "headers": ["个人自付", "金额"], "type": "money"},
        ],
    }
    data.update(overrides)
    return SourceMapping.model_validate(data)
