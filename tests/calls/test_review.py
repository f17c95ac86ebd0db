"""What staff read of a call: tool calls in words, and each reply's latency drawn to scale."""

import pytest

from calls.review import follow_up_reasons, json_object, latency_strips, providers_line, tool_call_describe

CLEANING = {"id": 41, "type_key": "cleaning", "type": "Cleaning", "provider_key": "chen", "provider": "Lisa Chen",
            "start": "2026-11-30T09:00:00-05:00", "spoken": "Monday, November 30 at 9 AM", "status": "booked"}
OFFER = {"start": "2026-12-01T10:00:00-05:00", "provider_key": "chen", "provider": "Lisa Chen",
         "spoken": "Tuesday, December 1 at 10 AM", "time": "10 AM"}


def said(name, arguments=None, result=None, ok=True):
    return tool_call_describe(name=name, arguments=arguments or {}, result=result or {}, ok=ok)


def test_appointment_changes_read_as_sentences_and_name_the_appointment():
    booked = said("book_appointment", {"type": "cleaning", "start": "2026-11-30T09:00:00-05:00", "provider": "chen"},
                  {"booked": True, "appointment": CLEANING})
    assert booked.sentence == "Booked a cleaning with Lisa Chen on Monday, November 30 at 9 AM"
    assert booked.ok and booked.appointment_id == 41
    moved = said("reschedule_appointment", {"appointment_id": 41, "start": "2026-12-01T10:00:00-05:00"},
                 {"rescheduled": True, "appointment": {**CLEANING, "spoken": "Tuesday, December 1 at 10 AM"}})
    assert moved.sentence == "Moved the appointment: now a cleaning with Lisa Chen on Tuesday, December 1 at 10 AM"
    cancelled = said("cancel_appointment", {"appointment_id": 41},
                     {"cancelled": True, "appointment": {**CLEANING, "type": "Exam", "status": "cancelled"}})
    assert cancelled.sentence == "Cancelled an exam with Lisa Chen on Monday, November 30 at 9 AM"
    assert cancelled.appointment_id == 41


def test_a_refusal_says_what_did_not_happen_why_and_what_was_offered_and_links_nothing():
    refused = said("book_appointment", {"type": "cleaning", "start": "2026-11-30T09:00:00-05:00"},
                   {"error": "That time was just taken.", "alternatives": [OFFER], "closed_for": ""}, ok=False)
    assert refused.sentence == ("Could not book a cleaning on Monday, November 30 at 9 AM: That time was just taken. "
                                "Offered instead: Tuesday, December 1 at 10 AM with Lisa Chen.")
    assert not refused.ok and refused.appointment_id is None
    no_transfer = said("transfer_to_human", {}, {"error": "Our front desk is closed right now."}, ok=False)
    assert no_transfer.sentence == "Could not transfer to the front desk: Our front desk is closed right now."
    unknown = said("fly_to_the_moon", {}, {"error": "There is no tool called fly_to_the_moon."}, ok=False)
    assert unknown.sentence == "Could not use fly_to_the_moon: There is no tool called fly_to_the_moon."


def test_looking_up_open_times_lists_what_was_found_or_why_none():
    found = said("find_slots", {"type": "cleaning", "date": "2026-12-01", "part_of_day": "morning"},
                 {"slots": [OFFER], "reason": "", "alternatives": []})
    assert found.sentence == ("Looked up open times for a cleaning on Tuesday, December 1 in the morning: "
                              "Tuesday, December 1 at 10 AM with Lisa Chen")
    none = said("find_slots", {"type": "exam", "date": "2026-12-25"},
                {"slots": [], "reason": "We're closed on Christmas Day.", "alternatives": [OFFER]})
    assert none.sentence == ("Looked up open times for an exam on Friday, December 25: none (We're closed on Christmas "
                             "Day.). Nearest: Tuesday, December 1 at 10 AM with Lisa Chen")
    exact = said("find_slots", {"type": "cleaning", "date": "2026-12-01", "time": "10:00"},
                 {"available": True, "slot": OFFER})
    assert exact.sentence == "Checked a cleaning on Tuesday, December 1 at 10 AM: free, with Lisa Chen"


@pytest.mark.parametrize("name,arguments,result,sentence", [
    ("identify_caller", {}, {"matches": 1}, "Looked up the caller ID: 1 patient on file"),
    ("identify_caller", {}, {"matches": 0}, "Looked up the caller ID: no patient on file"),
    ("verify_patient", {"date_of_birth": "1980-04-12"}, {"verified": True, "first_name": "Maria", "full_name": "Maria Garcia"},
     "Verified the caller as Maria Garcia"),
    ("verify_patient", {"date_of_birth": "1980-04-13"}, {"verified": False, "attempts_left": 2},
     "Could not verify the caller: no patient with that name and date of birth (2 tries left)"),
    ("register_patient", {"first_name": "Dan", "last_name": "Cole", "date_of_birth": "1990-01-01"},
     {"registered": True, "existing": False, "full_name": "Dan Cole"}, "Registered a new patient, Dan Cole"),
    ("list_appointments", {}, {"appointments": []}, "Listed the patient's upcoming appointments: none"),
    ("check_insurance", {"name": "delta"}, {"plan": "Delta Dental", "accepted": True, "accepted_plans": []},
     "Checked insurance: Delta Dental is accepted"),
    ("transfer_to_human", {"reason": "billing question"}, {"transfer_to": "+15551119999"},
     "Transferred to the front desk (billing question)"),
    ("take_message", {"about": "Please call me about my bill.", "caller_name": "Dan Cole", "for_whom": "billing"},
     {"message_taken": True}, "Took a message for billing from Dan Cole: “Please call me about my bill.”"),
    ("end_call", {}, {"ended": True}, "Ended the call"),
])
def test_every_tool_reads_as_what_the_receptionist_did(name, arguments, result, sentence):
    assert said(name, arguments, result).sentence == sentence


def test_stored_json_that_is_not_an_object_reads_as_nothing():
    assert json_object('{"a": 1}') == {"a": 1}
    assert json_object("") == json_object("[1]") == json_object("not json") == {}


def test_follow_up_is_asked_for_handovers_hang_ups_and_fallbacks_but_not_test_calls():
    assert follow_up_reasons(outcome="booked", fell_back_to_rules=False, fallbacks=[], is_test=False) == []
    assert follow_up_reasons(outcome="message_taken", fell_back_to_rules=False, fallbacks=["tts"], is_test=False) == [
        "message taken", "provider fallback"]
    assert follow_up_reasons(outcome="answered", fell_back_to_rules=True, fallbacks=[], is_test=False) == [
        "provider fallback"]
    assert follow_up_reasons(outcome="abandoned", fell_back_to_rules=True, fallbacks=["tts"], is_test=True) == []


TIMED = {"end_of_turn_wait_ms": 500, "turn_ended_by": "silence", "final_transcript_ms": 100.0,
         "engine_first_sentence_ms": 200.0, "first_audio_ms": 150.0, "first_frame_sent_ms": 500.0,
         "providers": {"stt": "deepgram", "engine": "claude", "tts": "espeak"}, "fallbacks": ["tts"]}


def test_a_strip_lays_the_stages_end_to_end_to_one_scale_for_the_whole_call():
    slow, fast, greeting = latency_strips([TIMED, {**TIMED, "end_of_turn_wait_ms": 250, "first_frame_sent_ms": 450.0,
                                                   "engine_first_sentence_ms": 150.0}, {"providers": {"tts": "espeak"}}])
    assert greeting is None  # no caller turn timed: nothing to draw
    assert [(s.key, s.ms) for s in slow.stages] == [("wait", 500), ("recognition", 100.0), ("engine", 200.0),
                                                    ("voice", 150.0), ("sending", 50.0)]
    # The slowest reply (1000 ms from the caller's last word) fills the width; the other is drawn against it.
    assert [s.width for s in slow.stages] == [50.0, 10.0, 20.0, 15.0, 5.0]
    assert [s.width for s in fast.stages] == [25.0, 10.0, 15.0, 15.0, 5.0]
    assert (slow.first_frame_ms, fast.first_frame_ms) == (1000.0, 700.0)
    voice = slow.stages[3]
    assert (voice.provider, voice.fallback) == ("espeak", True) and slow.stages[1].provider == "deepgram"
    assert "first sentence" in voice.title


def test_a_reply_cut_off_before_its_first_frame_draws_only_what_was_measured():
    (strip,) = latency_strips([{"end_of_turn_wait_ms": 500, "final_transcript_ms": 80.0, "engine_first_sentence_ms": None,
                                "first_audio_ms": None, "first_frame_sent_ms": None, "interrupted": True}])
    assert [s.key for s in strip.stages] == ["wait", "recognition"] and strip.first_frame_ms is None


def test_the_providers_line_marks_fallbacks():
    assert providers_line(TIMED) == [("Speech recognition", "deepgram", False), ("Conversation", "claude", False),
                                     ("Voice", "espeak", True)]
    assert providers_line({}) == []
