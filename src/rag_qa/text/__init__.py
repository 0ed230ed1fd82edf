"""Language knowledge shared by every stage: vocabulary (tokens, stopwords, months), the council
gazetteer, and the kind of answer a question asks for."""
