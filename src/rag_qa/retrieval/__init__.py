"""From a question to ranked passages: question reading, steering, candidates, fusion, de-duplication."""
