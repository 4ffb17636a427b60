"""Network pieces several notebooks share: the conv-BN-activation block (2-D and 3-D), small backbones,
and the one training helper (Adam, cosine schedule, timed fit, history)."""
