"""povguard: keep households from falling (back) into poverty.

The package is organised by bounded context (see DESIGN.md); each sub-package
exposes a small public surface in its ``__init__``.
"""

__version__ = "0.1.0"
