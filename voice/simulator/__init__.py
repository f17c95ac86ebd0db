"""Twilio's side of a phone call, played locally against a running server (`manage.py simulate_call`).

protocol: the signed incoming-call webhook and the media stream's messages; caller: a simulated caller on the
stream; twilio_api: the fake Twilio REST API the server hangs up and transfers through; run: placing calls;
report: the server's record of a call and the simulator's latency summary.
"""
