"""Alerts: detect negative-sentiment spikes per topic and deliver signed webhook notifications."""
