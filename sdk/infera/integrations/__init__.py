"""Verified embeddings inside the frameworks people already use. Each module needs its framework,
an optional extra (infera[langchain], infera[llamaindex]); `import infera` needs neither."""
