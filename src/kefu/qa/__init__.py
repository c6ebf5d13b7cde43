"""Quality assurance: daily random sampling of closed conversations, scorecards and reviews."""
