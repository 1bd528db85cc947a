"""Operations rules: what an alert says (counts, ids and links, never personal data) and when
one is due, and who may do what (roles, four eyes)."""
