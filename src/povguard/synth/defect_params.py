"""Defect rates of the department feeds (documented defaults, changeable).

Every rate is a per-row probability unless its description says otherwise. The
defaults are meant to be realistic, not gentle: together they put at least one
defect in about 8% of department rows. ``scaled(r)`` rescales all rates so that
``--defect-rate r`` sets the overall target (``0`` gives clean feeds).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Overall share of rows with at least one defect that the defaults aim at.
DEFAULT_OVERALL_DEFECT_RATE = 0.08


class DefectRates(BaseModel):
    """Per-row defect probabilities (see docs/synth-parameters.md for sources)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name_typo: float = Field(
        0.03, ge=0, le=1, description="name has one wrong character (of rows with a name)"
    )
    name_homophone_share: float = Field(
        0.5, ge=0, le=1, description="share of name typos that are homophones (张伟 -> 张炜)"
    )
    name_order_swap: float = Field(
        0.04, ge=0, le=1, description="romanised name exported given-name first (WEI ZHANG)"
    )
    id_digit_error: float = Field(
        0.015,
        ge=0,
        le=1,
        description="ID with a single wrong digit, an adjacent transposition"
        " or a wrong check character",
    )
    id_legacy_15: float = Field(
        0.003, ge=0, le=1, description="ID given in the legacy 15-digit form"
    )
    id_lowercase_x: float = Field(
        0.05, ge=0, le=1, description="share of IDs ending in X written with a lowercase x"
    )
    id_fullwidth: float = Field(
        0.003, ge=0, le=1, description="ID typed with full-width digits (５２０１...)"
    )
    id_excel_float: float = Field(
        0.03,
        ge=0,
        le=1,
        description="ID turned into a float / scientific notation by Excel"
        " (XLSX sources that mangle IDs)",
    )
    missing_id: float = Field(
        0.03,
        ge=0,
        le=1,
        description="ID missing, only name + birth date + village (sources that often lack IDs)",
    )
    missing_id_other: float = Field(
        0.002, ge=0, le=1, description="ID missing in sources that normally carry one"
    )
    duplicate_row: float = Field(
        0.01, ge=0, le=1, description="row delivered twice in the same file"
    )
    late_correction: float = Field(
        0.003,
        ge=0,
        le=1,
        description="row delivered with a wrong value and re-delivered corrected next period",
    )
    date_format_mixed: float = Field(
        0.006,
        ge=0,
        le=1,
        description="date written in another format"
        " (2025/5/1, 2025年5月1日, 20250501, Excel serial)",
    )
    stray_space: float = Field(
        0.005, ge=0, le=1, description="leading, trailing or inner spaces in a name or ID"
    )
    blank_row: float = Field(0.001, ge=0, le=1, description="empty row inserted after a row")

    def scaled(self, overall: float) -> DefectRates:
        """Return rates rescaled so the overall defect share targets ``overall``.

        Shares that describe a *mix* (``name_homophone_share``) and the
        conditional rates (``name_order_swap``, ``id_lowercase_x``) are scaled too,
        except the homophone share which only splits typos into kinds.
        """
        if not 0.0 <= overall <= 1.0:
            raise ValueError("defect rate must be between 0 and 1")
        factor = overall / DEFAULT_OVERALL_DEFECT_RATE
        values = {
            name: (value if name == "name_homophone_share" else min(1.0, value * factor))
            for name, value in self.model_dump().items()
        }
        return DefectRates(**values)
