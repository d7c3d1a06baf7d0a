"""Ingest: poll feeds, replay files and accept pushes; normalise, de-duplicate, publish to Kafka."""
