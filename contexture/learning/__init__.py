"""Learning: the paper's objectives (torch), neural encoders and full-batch training with the
post-hoc reduction of App. D."""
