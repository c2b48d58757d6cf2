"""The governed kernel: the one unit of work every data-bearing entry point calls, and the
inventory that classifies every entry point (see docs/adr/0009-kernel.md)."""

from simpul.kernel.call import Call, Refused
from simpul.kernel.core import Node, Origin, execute, publishes, run, writes
from simpul.kernel.principals import AccountId, AccountName, Basic, Bearer, Credential, Known

__all__ = [
    "AccountId",
    "AccountName",
    "Basic",
    "Bearer",
    "Call",
    "Credential",
    "Known",
    "Node",
    "Origin",
    "Refused",
    "execute",
    "publishes",
    "run",
    "writes",
]
