"""Thin wiring of the pipeline onto Kafka topics: decode, call processors, write, emit."""
