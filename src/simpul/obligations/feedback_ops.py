"""Feedback data (data balikan) as kernel operations: every upload and every download is
decided for a party of the agreement (`Call.authorize_party`) and recorded with the people
it carries, by the kernel, before the answer leaves (see docs/obligations.md).

- Download: the feedback is returned TO the provider, so only a provider administrator of
  the institution the duty names (`kepada`) receives it, while the agreement is in force.
  Auditors and the hub administrator never download personal data. Recorded as
  `data_balikan.unduh` with the file's NIKs as subjects and `{"baris": n}`.
- Upload: a recipient administrator, operator or data user of the obligor institution
  (operators and data users: of an agreement they are bound to), agreement in force.
  Recorded as `kewajiban.data_balikan` with the accepted rows' NIKs as subjects; every row
  keeps its verdict and line, so one bad row never costs the good ones.

The API, the portal and the CLI call these through `kernel.run`; nothing else reads or
writes feedback rows for a caller.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from simpul.access.policy import SERVICE_ROLES, PartyRequest, Side
from simpul.access.schemas import Role
from simpul.agreements import service as agreements
from simpul.agreements.schemas import FeedbackDuty
from simpul.errors import InvalidInput, NotFound, SimpulError
from simpul.kernel import Call
from simpul.kernel.core import writes
from simpul.obligations import feedback
from simpul.obligations.feedback import FeedbackFile, UploadResult

DOWNLOAD = "data_balikan.unduh"
UPLOAD = "kewajiban.data_balikan"
DOWNLOADERS = frozenset({Role.PROVIDER_ADMIN})
SENDERS = frozenset({Role.RECIPIENT_ADMIN, Role.OPERATOR, Role.DATA_USER})


def _duty_or_none(session: Session, agreement_id: str, duty_id: str | None) -> FeedbackDuty | None:
    """The duty asked for, if the agreement has exactly that one; the error comes later
    (after the decision), so that who may not ask learns nothing about the agreement."""
    try:
        doc = agreements.document_of(agreements.get(session, agreement_id))
        return feedback.duty_of(doc, agreement_id, duty_id)
    except (NotFound, InvalidInput):
        return None


def download(
    session: Session, call: Call, agreement_id: str, duty_id: str | None = None
) -> FeedbackFile:
    """The accepted feedback rows of one duty, for the provider administrator it is owed to."""
    duty = _duty_or_none(session, agreement_id, duty_id)
    req = PartyRequest(
        resource=DOWNLOAD,
        agreement_id=agreement_id,
        roles=DOWNLOADERS,
        side=Side.PROVIDER,
        dataset=duty.dataset if duty else None,
    )
    decision = call.authorize_party(session, req)
    if duty is None:  # raises the precise reason: no such duty, or several to choose from
        doc = agreements.document_of(agreements.get(session, agreement_id))
        duty = feedback.duty_of(doc, agreement_id, duty_id)
    if duty.to is not None and call.principal.institution != duty.to:
        raise SimpulError(
            "bukan_penerima_data_balikan",
            f"Data balikan {duty.id} pada {agreement_id} ditujukan kepada {duty.to}, bukan "
            f"{call.principal.institution}.",
            status=403,
        )
    found = feedback.download_csv(session, agreement_id, duty.id,
                                  version=decision.agreement_version)  # fmt: skip
    call.disclose_party(req, decision, subjects=found.niks,
                        result={"baris": found.rows, "kewajiban": duty.id})  # fmt: skip
    return found


@writes
def upload(
    session: Session,
    call: Call,
    agreement_id: str,
    content: bytes,
    *,
    filename: str = "unggahan.csv",
    duty_id: str | None = None,
) -> UploadResult:
    """Check and store one feedback file from the obligor; per-row verdicts."""
    duty = _duty_or_none(session, agreement_id, duty_id)
    req = PartyRequest(
        resource=UPLOAD,
        agreement_id=agreement_id,
        roles=SENDERS,
        side=Side.RECIPIENT,
        dataset=duty.dataset if duty else None,
    )
    decision = call.authorize_party(session, req)
    who = call.principal
    if who.role in SERVICE_ROLES and agreement_id not in who.agreement_ids:
        raise SimpulError(
            "perjanjian_tidak_terikat", "Akun tidak terikat pada perjanjian tersebut.", status=403
        )
    if not content:
        raise InvalidInput("berkas_wajib", "Pilih berkas CSV data balikan.")
    result = feedback.upload(
        session,
        call.settings,
        call.clock,
        agreement_id,
        content,
        filename=filename,
        actor=who.username,
        institution=who.institution,
        duty_id=duty_id,
    )
    call.disclose_party(
        req,
        decision,
        subjects=result.accepted_niks,
        result={
            "unggahan": result.upload_id,
            "kewajiban": result.duty_id,
            "diterima": result.rows_accepted,
            "ditolak": result.rows_rejected,
        },
    )
    return result
