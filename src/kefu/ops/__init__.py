"""Operations: durable jobs and failed inbound events, for administrators (API, console page)."""
