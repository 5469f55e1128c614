select time_valid_utc from onpoint_id.history_hour where country='US' and time_valid_utc=%s limit 10
