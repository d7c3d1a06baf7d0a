"""The demo that `make run` plays: a paced replay of labelled headlines with a scenario that makes
one topic turn negative, and a local webhook receiver that shows the alerts it causes."""
