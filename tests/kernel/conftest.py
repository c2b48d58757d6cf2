"""The probes' world, for the inventory and kernel tests."""

from tests.kernel.probes import world, world_files

__all__ = ["world", "world_files"]
