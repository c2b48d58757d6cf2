"""Kept for existing callers: the governance actions live in `simpul.governance.actions`
(one module per capability). New code imports from there."""

from simpul.governance.actions import (
    Termination,
    activate_agreement,
    activate_device,
    apply_addendum,
    deactivate_device,
    end_effects,
    rename_institution,
    reset_secret,
    resume_agreement,
    revoke_account,
    sign_agreement,
    suspend_agreement,
    terminate_agreement,
)

__all__ = [
    "Termination",
    "activate_agreement",
    "activate_device",
    "apply_addendum",
    "deactivate_device",
    "end_effects",
    "rename_institution",
    "reset_secret",
    "resume_agreement",
    "revoke_account",
    "sign_agreement",
    "suspend_agreement",
    "terminate_agreement",
]
