"""Chapter companions: one module per book chapter, named after it
(``contexture/chapters/ch05_optimality.py`` beside ``book/chapters/ch05_optimality.md``).

A companion holds the calculators that only its chapter uses. Companions never import each
other: code that two chapters need lives in a lower layer (contexts, spectra, metrics, learning).
"""
