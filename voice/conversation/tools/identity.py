"""Who is calling: caller ID, verification by date of birth, and new patients."""

import datetime as dt

from pydantic import Field

from bookings.selectors import patient_find_by_name_and_dob, patient_find_by_phone, patients_by_ids
from bookings.services import PatientInvalid, patient_create
from tenants.phones import InvalidPhoneNumber, normalize_phone
from voice.conversation.tools.context import ReceptionistTools, ToolError
from voice.conversation.tools.registry import Arguments, tool
from voice.conversation.tools.results import CallerMatches, Registration, Verification

# Identity checks a call may fail, and patient records it may create, whatever engine drives it:
# beyond them a caller (or a model talked into it) could guess dates of birth one after another.
MAX_FAILED_VERIFICATIONS = 3
MAX_REGISTRATIONS = 2


class NoArguments(Arguments):
    pass


class VerifyPatient(Arguments):
    date_of_birth: dt.date = Field(description="YYYY-MM-DD")
    first_name: str = ""
    last_name: str = ""


class RegisterPatient(Arguments):
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    date_of_birth: dt.date = Field(description="YYYY-MM-DD")
    phone: str = Field("", description="Only if different from the caller ID.")


def _checks_left(tools: ReceptionistTools) -> None:
    if tools.session.failed_verifications >= MAX_FAILED_VERIFICATIONS:
        raise ToolError("For your security I can't check any more details on this call; our front desk can help you.")


@tool("identify_caller", "How many patients are on file for the caller's phone number (caller ID). Never reveals who.",
      NoArguments)
def identify_caller(tools: ReceptionistTools, args: NoArguments) -> CallerMatches:
    try:
        patients = patient_find_by_phone(tenant=tools.tenant, phone=tools.call.caller_number) if tools.call.caller_number else []
    except InvalidPhoneNumber:
        patients = []
    tools.session.caller_patient_ids = [p.pk for p in patients]
    return CallerMatches(matches=len(patients))


@tool("verify_patient", "Verify the caller by date of birth, with first and last name when the caller ID matched no one. "
      "Required before revealing, booking for or changing anything of a patient.", VerifyPatient)
def verify_patient(tools: ReceptionistTools, args: VerifyPatient) -> Verification:
    _checks_left(tools)
    patient = None
    if args.first_name and args.last_name:
        patient = patient_find_by_name_and_dob(tenant=tools.tenant, first_name=args.first_name,
                                               last_name=args.last_name, date_of_birth=args.date_of_birth)
    if patient is None and tools.session.caller_patient_ids:
        matches = [p for p in patients_by_ids(tenant=tools.tenant, ids=tools.session.caller_patient_ids)
                   if p.date_of_birth == args.date_of_birth]
        patient = matches[0] if len(matches) == 1 else None
    if patient is None:
        tools.session.failed_verifications += 1
        return Verification(verified=False, attempts_left=MAX_FAILED_VERIFICATIONS - tools.session.failed_verifications)
    tools.session.verified_patient_id = patient.pk
    return Verification(verified=True, first_name=patient.first_name, full_name=patient.full_name)


@tool("register_patient", "Create a record for a new patient (after verify_patient found no one); they are then verified.",
      RegisterPatient)
def register_patient(tools: ReceptionistTools, args: RegisterPatient) -> Registration:
    _checks_left(tools)
    if tools.session.registrations >= MAX_REGISTRATIONS:
        raise ToolError("I can't open any more new patient records on this call; our front desk can help you.")
    existing = patient_find_by_name_and_dob(tenant=tools.tenant, first_name=args.first_name,
                                            last_name=args.last_name, date_of_birth=args.date_of_birth)
    if existing is not None:
        tools.session.verified_patient_id = existing.pk
        return Registration(registered=False, existing=True, full_name=existing.full_name)
    try:
        number = normalize_phone(args.phone or tools.call.caller_number) if (args.phone or tools.call.caller_number) else ""
    except InvalidPhoneNumber:
        number = ""
    try:
        patient = patient_create(tenant=tools.tenant, first_name=args.first_name, last_name=args.last_name,
                                 date_of_birth=args.date_of_birth, phone=number, actor=tools.actor, now=tools.now())
    except PatientInvalid as error:
        raise ToolError(str(error)) from None
    tools.session.registrations += 1
    tools.session.verified_patient_id = patient.pk
    return Registration(registered=True, full_name=patient.full_name)
