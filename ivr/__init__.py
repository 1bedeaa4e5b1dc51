"""Masked-call IVR: Twilio webhooks, voice flows, call simulator."""
