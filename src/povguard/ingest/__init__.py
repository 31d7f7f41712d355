"""Ingest: department files to typed, validated rows with lineage, and a quarantine.

Public surface::

    mappings = load_mappings()                      # packaged source mappings (YAML)
    report = ingest_period(engine, Path("twin/feeds"), "2025-05", mappings)
    report.failed, report.rows_loaded, report.rows_quarantined

Tables written (every one replaced per period, so a re-run changes nothing):

* ``raw_<source>``: the mapping's fields, typed (``id``/``name``/``pinyin``/``code``/
  ``region``/``text`` string, ``date`` date32, ``money``/``float`` float64, ``int``
  int64); every ``id`` field followed by ``<field>_status`` and ``<field>_raw``;
  then ``_issues`` (JSON of values loaded as null because invalid), ``period``,
  ``_source``, ``_file``, ``_file_sha256``, ``_sheet`` and ``_row`` (spreadsheet
  row / CSV line / JSON index + 1);
* ``quarantine``: rejected rows (period, source, file, sheet, row, raw values as
  JSON header -> text, reason, message_zh, message_en);
* ``ingest_files``: one row per file (period, source, file, sha256, format,
  encoding, rows_read, rows_loaded, rows_quarantined, status, error_code, error_zh,
  error_en, sheets, notes).

Rules: resident IDs in :mod:`povguard.ingest.normalise`, quarantine and duplicates
in :mod:`povguard.ingest.process`, file reading in :mod:`povguard.ingest.readers`.

Adding a department
-------------------
A department is data, not code. Drop a YAML file into
``src/povguard/resources/mappings/`` (or into your own folder passed to
``load_mappings(folder)``); for example the township civil-affairs office sending
``临时救助台账2025年5月.xlsx`` with a title row and a two-row header::

    source: temporary_assistance          # table raw_temporary_assistance
    department: 民政局
    department_en: Civil affairs
    files: ["*临时救助*.xlsx", "temporary_assistance.*"]   # name globs, any case
    format: xlsx                          # csv | xlsx | json
    encoding: auto                        # CSV/JSON: auto-detects UTF-8(-BOM)/GBK/GB18030
    sheet: null                           # null: every sheet whose header is recognised
    record_key: [case_no]
    person_keys: {id: id_number, name: name}
    household_keys: {village: village}
    identified_by:                        # else the row is quarantined (unidentifiable)
      - [id_number]                       # a valid ID, or
      - [name, id_number_raw]             # a name and any ID text (mistyped, Excel-mangled)
      - [name, village]
    fields:
      - {name: case_no, headers: [救助编号, 台账编号], type: text, required: true}
      - {name: village, headers: [所属村, 村(居)], type: text}
      - {name: name, headers: [姓名, 救助对象信息/姓名], type: name}
      - {name: id_number, headers: [身份证号, 公民身份号码, 证件号码], type: id}
      - {name: sex, headers: [性别], type: code, values: [男, 女], value_map: {男性: 男, 女性: 女}}
      - {name: amount, headers: [救助金额(元), 金额], type: money}
      - {name: pay_date, headers: [发放日期], type: date, max_future_days: 31}

``headers`` lists every header the department has used (matching ignores spaces,
full-/half-width and case; ``group/sub`` names a sub-header under a merged group
label). Check it with ``load_mappings(folder)`` (errors name the file and field),
then ingest a sample file and look at ``ingest_files.notes`` for unmapped columns.
"""

from povguard.ingest.mapping import (
    FieldSpec,
    HeaderOptions,
    HouseholdKeys,
    PersonKeys,
    SourceMapping,
    load_mapping,
    load_mappings,
)
from povguard.ingest.messages import IngestFileError, Message
from povguard.ingest.process import QUARANTINE_SCHEMA, raw_schema
from povguard.ingest.push import BatchReport, PushFormat, prepare_batch, push_batch, store_batch
from povguard.ingest.quality import (
    QUALITY_COLUMNS,
    QUALITY_SCHEMA,
    QUALITY_TABLE,
    UNMATCHED_SOURCE,
    build_quality,
    export_quality_html,
    export_quality_xlsx,
    ingested_periods,
    main_date_field,
    quality_rich_table,
    quality_trend,
)
from povguard.ingest.run import (
    FILES_SCHEMA,
    FILES_TABLE,
    PUSH_FILE_PREFIX,
    QUARANTINE_TABLE,
    FileReport,
    IngestReport,
    ingest_period,
    raw_table_name,
)

__all__ = [
    "FILES_SCHEMA",
    "FILES_TABLE",
    "PUSH_FILE_PREFIX",
    "QUALITY_COLUMNS",
    "QUALITY_SCHEMA",
    "QUALITY_TABLE",
    "QUARANTINE_SCHEMA",
    "QUARANTINE_TABLE",
    "UNMATCHED_SOURCE",
    "BatchReport",
    "FieldSpec",
    "FileReport",
    "HeaderOptions",
    "HouseholdKeys",
    "IngestFileError",
    "IngestReport",
    "Message",
    "PersonKeys",
    "PushFormat",
    "SourceMapping",
    "build_quality",
    "export_quality_html",
    "export_quality_xlsx",
    "ingest_period",
    "ingested_periods",
    "load_mapping",
    "load_mappings",
    "main_date_field",
    "prepare_batch",
    "push_batch",
    "quality_rich_table",
    "quality_trend",
    "raw_schema",
    "raw_table_name",
    "store_batch",
]
