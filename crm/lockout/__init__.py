"""Number guessing locked out across calls: wrong request numbers counted per caller."""
