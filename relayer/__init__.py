"""infera-relayer: an HTTP front door for Infera jobs (queue, batching, tracking)."""
