"""Plan documents: the plain-language contract of each plan version an agent is on, issued
immutable (numbered, hashed), acknowledged by the agent or questioned, and followed up."""
