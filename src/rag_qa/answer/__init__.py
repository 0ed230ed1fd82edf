"""The extractive answer: sentences chosen from the top passages, and abstention."""
