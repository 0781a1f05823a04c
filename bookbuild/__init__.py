"""The executable-book pipeline: MyST chapters → papermill → cached notebooks → Jupyter Book.

Run ``python -m bookbuild --help`` (or the Makefile targets ``book``, ``smoke``,
``chapter`` and ``publish``). Modules:

- :mod:`.params` parses each chapter's ``parameters`` cell into typed specs and validates
  profile files and command-line overrides against them;
- :mod:`.cache` computes the cache key of a chapter run;
- :mod:`.deps` finds the library modules a chapter imports (what its key covers);
- :mod:`.execute` runs one chapter with papermill and decorates the executed notebook;
- :mod:`.stage` assembles the executed notebooks into a Jupyter Book source tree and builds it;
- :mod:`.publish` commits a built profile to the local branch the launch buttons open;
- :mod:`.provenance` collects the commit and package versions recorded everywhere.
"""
