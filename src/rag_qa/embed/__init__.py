"""The embedding model and the build's embedding stage (local or Ray)."""
