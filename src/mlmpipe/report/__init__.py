"""Report building blocks: tables and figures as objects (the notebook only calls them) and the
renderer (papermill + nbconvert, or Quarto)."""

from mlmpipe.report import figures, tables

__all__ = ["figures", "tables"]
