"""The transfer protocol: select, configure, train, evaluate. No deep-learning import at module level."""
