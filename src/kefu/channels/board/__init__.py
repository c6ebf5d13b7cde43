"""Web message board (留言板): a public form that opens a conversation and a ticket."""
