"""Decisions on forecasts: storage assets, the dispatch LP, rules and trading scores (pure)."""
