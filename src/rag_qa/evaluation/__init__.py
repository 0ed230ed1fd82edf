"""The eval suites: questions, metrics, reports, and BEIR datasets."""
