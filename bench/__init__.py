"""`make bench`: Program Pulse against Perceval on the sandbox's portfolio scenario (see bench/run.py)."""
