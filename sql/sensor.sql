-- The sensor's change check: any change in this result publishes an event.
-- Keep it cheap (an aggregate, not a table dump) and deterministic (ORDER BY when
-- returning rows). Parameters from [data] params are bound by the connector, never
-- formatted into the text: here the table name arrives as %(table)s and IDENTIFIER()
-- turns the bound string into a table reference.
--
--   [data]
--   type = "snowflake"
--   template = "sensor"
--   params = { table = "ANALYTICS.PUBLIC.ORDERS" }
SELECT COUNT(*) AS row_count, MAX(updated_at) AS last_updated
FROM IDENTIFIER(%(table)s)
