"""One module per command; each parses options, builds settings and calls library code."""
