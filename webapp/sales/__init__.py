"""Sales: recording, editing and deciding them."""
