"""The published interface descriptions Mosaic targets, shipped with it: the simulated
systems serve them and ``mosaic sources check`` holds a configured system to them."""
