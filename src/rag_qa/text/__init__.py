"""Language knowledge shared by every stage: vocabulary (tokens, stopwords, months) and the council gazetteer."""
