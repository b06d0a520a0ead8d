"""A PBX simulator speaking Asterisk 22's AMI and FastAGI exactly as the recordings show.

May import ``cti.ami.protocol``, ``cti.dialplan`` (its pure parsers), the wire formats
in ``ivr`` and the standard library only. Pure parts (``render``, ``agicmd``, ``engine``,
``scenarios``) touch no socket; ``agi``, ``audiosocket`` and ``server`` move their bytes
over TCP (``dialplan`` reads the configuration files it is given). Used by ``cti demo``,
the tests and the benchmarks.
"""

from cti.pbxsim.engine import (
    Callee,
    CallerScript,
    CallPlan,
    MemberConfig,
    Originate,
    Pbx,
    PbxConfig,
    ProbeScript,
    QueueConfig,
)
from cti.pbxsim.scenarios import MixWeights, generate, generate_burst, plan_for, run_calls
from cti.pbxsim.server import CallResult, PbxSimulator

__all__ = [
    "CallPlan",
    "CallResult",
    "Callee",
    "CallerScript",
    "MemberConfig",
    "MixWeights",
    "Originate",
    "Pbx",
    "PbxConfig",
    "PbxSimulator",
    "ProbeScript",
    "QueueConfig",
    "generate",
    "generate_burst",
    "plan_for",
    "run_calls",
]
