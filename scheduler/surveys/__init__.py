"""Evaluation surveys: editable questions, an optional pre-test before a training, personal one-time links and
anonymous answers."""
