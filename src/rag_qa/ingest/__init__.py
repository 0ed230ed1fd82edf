"""From a file in corpus/ to a Document and its Chunks: loading, the PDF sandbox, cleaning, dates, metadata, chunking."""
