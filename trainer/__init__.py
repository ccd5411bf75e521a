"""Chorus trainer: oasst exports to SFT, reward model and DPO checkpoints with provenance manifests."""
