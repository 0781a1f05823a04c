"""A module no chapter imports."""

VALUE = 1
