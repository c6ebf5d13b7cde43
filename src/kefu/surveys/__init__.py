"""Customer satisfaction: post-resolution CSAT surveys and periodic multi-dimension satisfaction campaigns."""
