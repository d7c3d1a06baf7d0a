"""Classify: the BERT topic + sentiment model, its training and evaluation, the inference engine
and the Faust agent that runs it over Kafka."""
