"""dicomteach: teach medical imaging in Jupyter."""
