"""The training workshop: data sources, fine-tuning and distillation, calibration, evaluation,
comparison and the model card. The live path (classify/model.py, predictor, agent, stage) never
imports from here."""
