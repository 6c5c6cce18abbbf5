"""Every euscale-* command, in the order euca2ools lists them."""

from __future__ import annotations

from mallee.euca.commands import (
    auto_scaling_activities,
    auto_scaling_configs,
    auto_scaling_groups,
    auto_scaling_policies,
    auto_scaling_processes,
)

COMMANDS = (
    *auto_scaling_configs.COMMANDS,
    *auto_scaling_groups.COMMANDS,
    *auto_scaling_policies.COMMANDS,
    *auto_scaling_activities.COMMANDS,
    *auto_scaling_processes.COMMANDS,
)
