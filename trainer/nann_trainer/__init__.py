"""nann reference trainer: scorer architectures, training and export to nann's model directory contract."""
