"""The one command table every face dispatches from, and its typed arguments."""
