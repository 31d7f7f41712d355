"""Synthetic province twin: population, monthly dynamics, department feeds, truth.

Public surface::

    generate_twin(TwinConfig(out=Path("twin")), params=load_params(...))
"""

from povguard.synth.defect_params import DefectRates
from povguard.synth.dynamics import AssistanceHook, Simulator
from povguard.synth.feeds.sources import SOURCE_BY_NAME, SOURCES
from povguard.synth.params import SynthParams, load_params, parameter_table
from povguard.synth.twin import TwinConfig, TwinSummary, generate_twin

__all__ = [
    "SOURCES",
    "SOURCE_BY_NAME",
    "AssistanceHook",
    "DefectRates",
    "Simulator",
    "SynthParams",
    "TwinConfig",
    "TwinSummary",
    "generate_twin",
    "load_params",
    "parameter_table",
]
