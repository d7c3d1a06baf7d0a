"""Entities in headlines: a watchlist of companies, a matcher that finds them in a title, and a
target-aware model that scores the headline's sentiment towards each one.

Data flows one way: the classify stage calls :class:`entities.matcher.Matcher` and the entity
sentiment engine; storage keeps one row per (headline, entity); alerts read those rows.
"""
