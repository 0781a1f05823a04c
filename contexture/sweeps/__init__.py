"""Sweeps: grids of pure cells, stored resumably on disk, run locally or on a Dask cluster."""
