"""Twilio's side of a phone call, played locally: its REST API, a caller on the media stream, a report."""
