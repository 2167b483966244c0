"""Our PyTorch model code, one package per model family (imports torch)."""
