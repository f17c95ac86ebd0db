"""Patient PHI is unreadable in the database, findable by caller ID, and survives key rotation."""

import datetime
import io
import re

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from bookings.models import Patient
from tenants.crypto import DecryptionError, phone_blind_index

pytestmark = pytest.mark.django_db


PHI_COLUMNS = ["first_name", "last_name", "date_of_birth", "phone", "email"]
INDEX_COLUMNS = ["phone_index", "identity_index"]


def raw_columns(patient_id: int) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(PHI_COLUMNS + INDEX_COLUMNS)} FROM bookings_patient WHERE id = %s", [patient_id]
        )
        return dict(zip(PHI_COLUMNS + INDEX_COLUMNS, (str(value) for value in cursor.fetchone())))


@pytest.fixture
def patient(make_practice):
    tenant, patient, _ = make_practice("north", patient_name=("Maria", "Garcia"), phone="(555) 111-0001")
    patient.email = "maria.garcia@example.com"
    patient.date_of_birth = datetime.date(1980, 4, 12)
    patient.save()
    return patient


def test_raw_row_holds_no_phi_in_clear(patient):
    columns = raw_columns(patient.pk)
    # Short digit runs such as "555" turn up by chance in hex digests and base64, so each column is
    # checked for its shape instead: PHI columns hold Fernet tokens, index columns hold HMAC digests.
    for name in PHI_COLUMNS:
        assert columns[name].startswith("gAAAAA"), name
    for name in INDEX_COLUMNS:
        assert re.fullmatch(r"[0-9a-f]{64}", columns[name]), name
    row = " ".join(columns.values())
    for clear in ["Maria", "Garcia", "5551110001", "1980-04-12", "maria.garcia", "example.com"]:
        assert clear not in row
    assert connection.vendor == "postgresql"


def test_phone_is_normalised_and_caller_id_finds_the_patient(patient):
    stored = Patient.objects.get(pk=patient.pk)
    assert stored.phone == "+15551110001"
    assert stored.first_name == "Maria" and stored.date_of_birth == datetime.date(1980, 4, 12)
    for dialled in ["+15551110001", "555-111-0001", "1 (555) 111 0001"]:
        found = Patient.objects.filter(tenant=patient.tenant, phone_index=phone_blind_index(dialled))
        assert list(found) == [stored]
    assert not Patient.objects.filter(phone_index=phone_blind_index("+15551110002")).exists()


def test_encrypted_columns_refuse_lookups_that_could_never_match(patient):
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError):
        list(Patient.objects.filter(last_name="Garcia"))


def test_rotation_then_dropping_the_old_key_keeps_every_patient_readable(patient, settings, make_practice):
    make_practice("south", patient_name=("John", "Smith"), phone="+15551110002")
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    out = io.StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "1", stdout=out)
    assert "bookings.Patient: 2 rows checked, 9 values re-encrypted" in out.getvalue()

    again = io.StringIO()
    call_command("rotate_encryption_keys", stdout=again)
    assert "bookings.Patient: 2 rows checked, 0 values re-encrypted" in again.getvalue()

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    names = sorted(p.full_name for p in Patient.objects.all())
    assert names == ["John Smith", "Maria Garcia"]
    assert Patient.objects.get(pk=patient.pk).email == "maria.garcia@example.com"


def test_a_value_no_key_can_decrypt_raises(patient, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError):
        Patient.objects.get(pk=patient.pk)


def test_rotation_without_the_old_key_stops_and_changes_nothing(patient, settings):
    before = raw_columns(patient.pk)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no configured key decrypts"):
        call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert raw_columns(patient.pk) == before


@pytest.mark.django_db(transaction=True)
def test_a_write_during_rotation_waits_for_its_batch_and_is_kept(patient, settings, monkeypatch):
    import threading

    from django.db import connection as main_connection

    from tenants.management.commands import rotate_encryption_keys

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), settings.FIELD_ENCRYPTION_KEYS[0]]
    batch_read, release = threading.Event(), threading.Event()
    rotate = rotate_encryption_keys.rotate_token

    def rotate_slowly(token):
        batch_read.set()  # the batch's rows are read: now a staff member saves one of them
        release.wait(20)
        return rotate(token)

    monkeypatch.setattr(rotate_encryption_keys, "rotate_token", rotate_slowly)

    def in_thread(work):
        def run():
            try:
                work()
            finally:
                main_connection.close()
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    rotation = in_thread(lambda: call_command("rotate_encryption_keys", stdout=io.StringIO()))
    assert batch_read.wait(20)

    def new_phone():
        Patient.objects.filter(pk=patient.pk).update(phone="+15557779999")

    writer = in_thread(new_phone)
    writer.join(1.5)  # without a lock the write lands now, and the rotation then overwrites it
    release.set()
    rotation.join(30), writer.join(30)
    assert Patient.objects.get(pk=patient.pk).phone == "+15557779999"
