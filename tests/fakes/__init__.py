"""Small real executables that stand in for what cannot run here (a network LLM)."""
