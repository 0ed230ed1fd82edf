"""The index on disk: generations, the passage store, vectors, BM25, and the build."""
