"""Reason codes of ingest, with their messages in Chinese and English.

Three kinds of codes:

* **file failures** (a file is reported ``failed``, the other files still load):
  ``no_mapping``, ``ambiguous_mapping``, ``format_mismatch``, ``unreadable``,
  ``not_text``, ``undecodable``, ``corrupt_xlsx``, ``invalid_json``,
  ``no_records``, ``no_header``, ``missing_required_column``, ``internal_error``;
* **quarantine reasons** (one row rejected, kept in table ``quarantine``):
  ``required_missing``, ``required_invalid``, ``id_excel_mangled``,
  ``unidentifiable``, ``malformed_row``;
* **value issues** (a value loaded as null, noted in ``_issues`` or
  ``<id>_status``): ``invalid_date``, ``date_out_of_range``, ``not_a_number``,
  ``not_an_integer``, ``invalid_region``, ``unknown_region``, ``value_not_allowed`` and
  the ID statuses ``missing``, ``invalid_format``, ``invalid_check``, ``excel_mangled``.
"""

from __future__ import annotations

from dataclasses import dataclass

from povguard.errors import DataError

__all__ = [
    "FILE_ERRORS",
    "QUARANTINE_REASONS",
    "IngestFileError",
    "Message",
    "file_error",
    "issue_text",
    "quarantine_message",
]


@dataclass(frozen=True)
class Message:
    """A reason code with its Chinese and English text."""

    code: str
    zh: str
    en: str


FILE_ERRORS: dict[str, tuple[str, str]] = {
    "no_mapping": (
        "文件“{file}”不匹配任何数据源映射",
        'file "{file}" matches no source mapping',
    ),
    "ambiguous_mapping": (
        "文件“{file}”同时匹配多个数据源映射：{sources}",
        'file "{file}" matches several source mappings: {sources}',
    ),
    "format_mismatch": (
        "文件扩展名表明是 {found} 文件，但数据源“{source}”的映射声明为 {expected}",
        "the file extension says {found} but the mapping of {source} declares {expected}",
    ),
    "unreadable": ("无法读取文件：{detail}", "cannot read the file: {detail}"),
    "not_text": (
        "文件包含二进制内容，不是文本文件",
        "the file holds binary content, not text",
    ),
    "undecodable": (
        "无法识别文件编码（不是 UTF-8、GBK/GB18030 等可识别的文本编码）",
        "cannot decode the file (not UTF-8, GBK/GB18030 or another recognisable encoding)",
    ),
    "corrupt_xlsx": (
        "XLSX 文件损坏或被截断，无法读取：{detail}",
        "the XLSX file is corrupt or truncated and cannot be read: {detail}",
    ),
    "invalid_json": ("JSON 格式错误：{detail}", "invalid JSON: {detail}"),
    "no_records": (
        "JSON 中找不到记录列表“{path}”",
        'no list of records at "{path}" in the JSON',
    ),
    "no_header": (
        "在前 {rows} 行中找不到可识别的表头（至少需要匹配 {needed} 个字段）",
        "no recognisable header in the first {rows} rows (at least {needed} fields must match)",
    ),
    "missing_required_column": (
        "缺少必填列：{columns}",
        "missing required column(s): {columns}",
    ),
    "no_sheet": ("工作表“{sheet}”不存在", 'no sheet "{sheet}" in the workbook'),
    "internal_error": ("处理文件时出错：{detail}", "error while processing the file: {detail}"),
}

QUARANTINE_REASONS: dict[str, tuple[str, str]] = {
    "required_missing": (
        "缺少必填字段“{header}”",
        'required field "{field}" is missing',
    ),
    "required_invalid": (
        "必填字段“{header}”的值“{value}”无效：{issue_zh}",
        'required field "{field}" has an invalid value "{value}": {issue_en}',
    ),
    "id_excel_mangled": (
        "“{header}”的值“{value}”是被 Excel 转成数字的身份证号，后几位已丢失，无法识别对象",
        '"{field}" value "{value}" is an ID number turned into a number by Excel; '
        "its last digits are lost and the record cannot be identified",
    ),
    "unidentifiable": (
        "无法识别记录对象：没有有效身份证号，也不满足其他识别条件（{options_zh}）",
        "cannot identify whom the record is about: no valid ID number and none of the "
        "other ways to identify it is complete ({options_en})",
    ),
    "malformed_row": (
        "该行有 {found} 列，与表头的 {expected} 列不符",
        "the row has {found} fields but the header has {expected}",
    ),
}

_ISSUES: dict[str, tuple[str, str]] = {
    "invalid_date": ("不是有效日期", "not a valid date"),
    "date_out_of_range": ("日期超出合理范围", "date outside the plausible range"),
    "not_a_number": ("不是有效数字或金额", "not a number"),
    "not_an_integer": ("不是整数", "not an integer"),
    "invalid_region": ("不是 12 位行政区划代码", "not a 12-digit region code"),
    "unknown_region": ("行政区划代码不在区划表中", "region code not in the region table"),
    "id_birth_mismatch": (
        "身份证号中的出生日期与记录不一致",
        "ID birth date differs from the record's",
    ),
    "id_sex_mismatch": (
        "身份证号中的性别与记录不一致",
        "ID sex digit differs from the record's sex",
    ),
    "value_not_allowed": ("不在代码表中", "not in the code list"),
    "missing": ("缺失", "missing"),
    "invalid_format": (
        "身份证号格式错误（长度或字符不对）",
        "not an ID number (wrong length or characters)",
    ),
    "invalid_check": ("身份证号校验码错误", "wrong check character"),
    "excel_mangled": (
        "身份证号被 Excel 转成数字，后几位已丢失",
        "ID number turned into a number by Excel, last digits lost",
    ),
}


def file_error(code: str, **values: object) -> Message:
    """The message of file-failure ``code`` filled with ``values``.

    Parameters
    ----------
    code:
        A key of :data:`FILE_ERRORS`.
    **values:
        Placeholders of the message (``file``, ``detail``...).

    Returns
    -------
    Message
        Code with Chinese and English text.
    """
    zh, en = FILE_ERRORS[code]
    return Message(code, zh.format(**values), en.format(**values))


def quarantine_message(code: str, **values: object) -> Message:
    """The message of quarantine reason ``code`` filled with ``values``."""
    zh, en = QUARANTINE_REASONS[code]
    return Message(code, zh.format(**values), en.format(**values))


def issue_text(code: str) -> tuple[str, str]:
    """Chinese and English description of a value issue or ID status ``code``."""
    return _ISSUES.get(code, (code, code))


class IngestFileError(DataError):
    """A file cannot be ingested; carries the reason in Chinese and English."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.en)
        self.message = message

    @classmethod
    def of(cls, code: str, **values: object) -> IngestFileError:
        """The error for file-failure ``code`` (see :data:`FILE_ERRORS`)."""
        return cls(file_error(code, **values))
