"""The lowest layer: argument checks (``checks``: also ``as_rng`` and ``check_table``), matrix
helpers with the one sign convention and the one weighted eigendecomposition (``linalg``),
validation of spectra and weights (``validate``), seeding (``seeding``).

Nothing here knows about contexts; every other layer of :mod:`contexture` may import it.
"""
