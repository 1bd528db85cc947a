"""Access rules: remote-assistance grants that let support read a tenant's call data for a
bounded time and scope, and the audit facts that show each read stayed inside one."""
