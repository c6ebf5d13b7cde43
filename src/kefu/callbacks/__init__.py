"""Call-back appointments (預約回電): slots, booking by customers or agents, the agents' queue, missed call-backs."""
