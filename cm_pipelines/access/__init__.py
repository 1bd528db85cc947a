"""Access: who acts (identities from the roles file) and approvals of destructive actions by a
second person. Capabilities ask it before an erasure above the threshold, a breaker override
or a hold release; it knows none of them."""
