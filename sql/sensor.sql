-- The sensor's change check: any change in this result publishes an event.
-- Keep it cheap (an aggregate, not a table dump) and deterministic (ORDER BY when
-- returning rows). Parameters from [data] params are bound by the connector.
SELECT COUNT(*) AS row_count, MAX(updated_at) AS last_updated
FROM IDENTIFIER(%(table)s)
