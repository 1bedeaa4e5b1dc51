"""Recorded conversations of companies that record: kept at Twilio, listed and streamed here."""
