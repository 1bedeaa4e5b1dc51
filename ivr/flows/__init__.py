"""Pure voice flows: (call state, caller input) -> (TwiML, next state). No I/O in here."""
