"""A PBX simulator speaking Asterisk 22's AMI and FastAGI exactly as the recordings show.

Used by ``cti demo`` and the tests; imports only ``cti.ami.protocol`` and the standard library.
"""

from cti.pbxsim.agi import CallerScript
from cti.pbxsim.pbx import Agent, CallPlan, SimulatedPbx
from cti.pbxsim.server import MixWeights, PbxSimulator

__all__ = ["Agent", "CallPlan", "CallerScript", "MixWeights", "PbxSimulator", "SimulatedPbx"]
