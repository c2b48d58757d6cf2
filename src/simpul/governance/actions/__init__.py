"""Governance actions: the only way adapters (CLI, portal, demo) change governed state.

Each action is one function `(session, settings, clock, …, actor, reason?) -> result`
that calls the capability's own internal function and appends an audit record
(`decision = tindakan`, or `tolak` for a refused export) through
`audit.record_in_session` in the same session: the change and its record commit together
or not at all. The action names written to the log are listed in docs/governance.md.
"""

from simpul.governance.actions.accounts import (
    bind_agreement,
    change_password,
    confirm_second_factor,
    create_account,
    renew_recovery_codes,
    reset_second_factor,
    reset_secret,
    revoke_account,
    unbind_agreement,
    unlock_account,
)
from simpul.governance.actions.agreements import (
    Expiry,
    Termination,
    activate_agreement,
    apply_addendum,
    end_effects,
    expire_due,
    load_agreements,
    load_seed,
    resume_agreement,
    sign_agreement,
    suspend_agreement,
    terminate_agreement,
)
from simpul.governance.actions.audit_log import (
    register_witness,
    remove_witness,
    rotate_checkpoint_key,
)
from simpul.governance.actions.devices import activate_device, deactivate_device, register_device
from simpul.governance.actions.institutions import (
    create_institution,
    load_institutions,
    rename_institution,
    update_institution,
)
from simpul.governance.actions.registry import (
    Export,
    export_registry,
    load_registry,
    write_snapshot,
)

__all__ = [
    "Expiry",
    "Export",
    "Termination",
    "activate_agreement",
    "activate_device",
    "apply_addendum",
    "bind_agreement",
    "change_password",
    "confirm_second_factor",
    "create_account",
    "create_institution",
    "deactivate_device",
    "end_effects",
    "expire_due",
    "export_registry",
    "load_agreements",
    "load_institutions",
    "load_registry",
    "load_seed",
    "register_device",
    "register_witness",
    "remove_witness",
    "rename_institution",
    "renew_recovery_codes",
    "reset_second_factor",
    "reset_secret",
    "resume_agreement",
    "revoke_account",
    "rotate_checkpoint_key",
    "sign_agreement",
    "suspend_agreement",
    "terminate_agreement",
    "unbind_agreement",
    "unlock_account",
    "update_institution",
    "write_snapshot",
]
