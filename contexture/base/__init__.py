"""The lowest layer: argument checks, matrix helpers, validation of spectra and weights, seeding.

Nothing here knows about contexts; every other layer of :mod:`contexture` may import it.
"""
