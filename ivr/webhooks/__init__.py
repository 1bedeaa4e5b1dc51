"""Thin Twilio webhook handlers: check the signature, load state, run the flow, persist."""
