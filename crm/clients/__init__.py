"""An agent's clients."""
