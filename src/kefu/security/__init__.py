"""Security operations: incident register and self-service password reset."""
