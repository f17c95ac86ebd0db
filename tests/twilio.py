"""Posting to the webhooks as Twilio does: form fields, signed with the account's auth token."""

from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://receptionist.example.com"


def post(client, path, params, *, signed_url=None, signature=None):
    url = signed_url or PUBLIC + path
    sig = signature if signature is not None else RequestValidator(TOKEN).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=sig)
