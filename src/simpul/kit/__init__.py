"""Small shared tools: clock, ids, masking, safe CSV cells, repository base."""
