"""Questions in plain words: intents, slots and time expressions, understood offline."""
